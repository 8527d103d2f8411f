import { fileURLToPath } from 'node:url';

// Each subcommand is imported only when it runs: `liveset call` must not load the server, ajv,
// pino and the hook libraries just to send one request.

const USAGE = `liveset — high-availability coordination server

usage:
  liveset serve -c FILE [--server NAME]       run one server
  liveset up -c FILE                          run every server a cluster file defines (Ctrl-C stops all)
  liveset check-config FILE [--server NAME]   validate a configuration; exit 1 listing every problem
  liveset call COMMAND [--args JSON|@file] [--url URL] [--jsonrpc]
                                              send one command; exit code = the answer's result
  liveset status [--url URL] [--user U --password P] [--once]
                                              this server and its peers, redrawn live (as GET /ui)
  liveset scenario FILE... [--junit FILE] [--json]
                                              run scripted scenarios against a local cluster
  liveset demo                                run the built-in demo cluster (npm start)
  liveset version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return (await import('./serve.ts')).serveCli(rest);
    case 'up':
      return (await import('./up.ts')).upCli(rest);
    case 'check-config':
      return (await import('./check-config.ts')).checkConfigCli(rest);
    case 'call':
      return (await import('./call.ts')).callCli(rest);
    case 'status':
      return (await import('./status.ts')).statusCli(rest);
    case 'scenario':
      return (await import('./scenario/index.ts')).runScenarioCli(rest);
    case 'demo': {
      const [{ upCli }, { demoBanner }] = await Promise.all([import('./up.ts'), import('./demo.ts')]);
      return upCli(['-c', fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url))], demoBanner);
    }
    case 'version':
    case '--version':
      process.stdout.write(`${(await import('./runtime-info.ts')).versionInfo().extended}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`liveset: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`liveset: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
