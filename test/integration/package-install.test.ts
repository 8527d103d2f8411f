import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, REPO_ROOT } from '../../src/cli/runtime-info.ts';
import { freePorts, keaCommand, waitFor } from '../helpers/liveset.ts';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to completion (killed after `timeoutMs`), outside the checkout. */
function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

test('the npm pack tarball installs into an empty prefix and its liveset runs compiled code', { timeout: 300_000 }, async (t) => {
  assertBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'liveset-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // --ignore-scripts: pack the dist/ npm test just built (prepare would rebuild it under the running tests).
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO_ROOT);
  assert.equal(pack.code, 0, pack.err);
  const [{ filename, files }] = JSON.parse(pack.out) as [{ filename: string; files: { path: string }[] }];
  const paths = files.map((f) => f.path);
  for (const needed of ['bin/liveset.mjs', 'dist/bundle/main.js', 'dist/cli/main.js', 'dist/core/server.js', 'schemas/liveset.schema.json', 'examples/demo.yaml']) {
    assert.ok(paths.includes(needed), `${needed} is in the tarball`);
  }
  assert.deepEqual(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/') || p.endsWith('.ts')), [], 'no sources or tests in the tarball');
  assert.ok(paths.some((p) => /^dist\/validators\/[0-9a-f]+\.cjs$/.test(p)), 'the precompiled schema validators are in the tarball');

  // A global install into a prefix of its own, as `npm install -g` does; dependencies from the
  // npm cache when there (npm ci filled it), from the registry otherwise.
  const prefix = join(dir, 'prefix');
  const install = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)], dir);
  assert.equal(install.code, 0, install.err);
  const liveset = join(prefix, 'bin', 'liveset');
  const installed = join(prefix, 'lib', 'node_modules', 'liveset');
  const deps = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
  assert.equal(deps['tsx'], undefined, 'tsx is not a run-time dependency');

  const work = join(dir, 'work');
  mkdirSync(work);
  const version = await run(liveset, ['--version'], work);
  assert.equal(version.code, 0, version.err);
  assert.match(version.out, new RegExp(`^liveset ${VERSION.replaceAll('.', '\\.')} on Node\\.js`));

  // Schemas and the demo configuration are read from the installed package.
  const demo = await run(liveset, ['check-config', join(installed, 'examples', 'demo.yaml'), '--server', 'server1'], work);
  assert.equal(demo.code, 0, demo.out + demo.err);
  writeFileSync(join(work, 'bad.yaml'), 'server:\n  body-limit: tiny\n');
  const bad = await run(liveset, ['check-config', 'bad.yaml'], work);
  assert.equal(bad.code, 1);
  assert.match(bad.out + bad.err, /bad\.yaml:2:\d+: server\.body-limit: /);

  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}/`;
  writeFileSync(
    join(work, 'liveset.yaml'),
    [`server: { listen: "${url}", data-dir: ./var }`, 'logging: { level: warn, format: json }', 'hooks-libraries:', '  - library: pool', '    parameters:',
      '      name: p', '      master: h1', `      hosts: [ { name: h1, url: "${url}" } ]`, '      credentials: [ { user: root, password: secret } ]'].join('\n'),
  );
  const serve = spawn(liveset, ['serve', '-c', 'liveset.yaml', '--server', 'h1'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  serve.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  serve.stderr.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
  });
  const exitedEarly = exited.then((code) => Promise.reject(new Error(`the installed server exited with ${code}`)));
  exitedEarly.catch(() => undefined);
  const answer = await Promise.race([
    waitFor(() => keaCommand(url, 'version-get', undefined, { timeoutMs: 2000 }), { timeoutMs: 30_000, what: 'the installed server to answer' }),
    exitedEarly,
  ]).catch((err: Error) => assert.fail(`${err.message}\n${logs}`));
  assert.equal(answer.result, 0);
  assert.match(answer.text ?? '', new RegExp(VERSION.replaceAll('.', '\\.')));
  // A command schema from the package's schemas/commands/ rejects bad arguments by field name.
  const invalid = await keaCommand(url, 'version-get', { nope: 1 });
  assert.equal(invalid.result, 1);
  assert.match(invalid.text ?? '', /^arguments/);
  const call = await run(liveset, ['call', 'host.get_all', '--url', url, '--jsonrpc', '--args', '["x"]'], work);
  assert.ok(call.out.includes('"jsonrpc": "2.0"'), call.out + call.err);
  serve.kill('SIGTERM');
  assert.equal(await exited, 0, logs);
});
