// An example user hook library for liveset, in plain JavaScript so it can be copied and edited
// without a build step. Load it with:
//
//   hooks-libraries:
//     - library: ./libraries/greeter.mjs      # relative to the configuration file
//       parameters: { greeting: Hello, audit: true }
//
// It adds one command (`greet`) and one callout (`command_processed`), and publishes an event that
// WebSocket clients can subscribe to: {"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"events":["greeter-*"]}}

let counts;
let logger;

/** @type {import('../../src/core/hooks/hook-library.ts').HookLibrary} */
export const library = {
  name: 'greeter',
  apiVersion: 1,
  parametersSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['greeting'],
    properties: {
      greeting: { type: 'string', minLength: 1 },
      audit: { type: 'boolean', default: false },
    },
  },

  load(handle) {
    const { greeting, audit } = handle.parameters;
    counts = new Map();
    logger = handle.logger;
    handle.registerCommand({
      name: 'greet',
      schema: {
        title: 'greet',
        description: 'Greets someone and counts how often each name was greeted.',
        arguments: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
      handler(args) {
        const n = (counts.get(args.name) ?? 0) + 1;
        counts.set(args.name, n);
        handle.publish('greeter-greeted', { name: args.name, count: n });
        return { result: 0, text: `${greeting}, ${args.name}!`, arguments: { count: n } };
      },
    });
    if (audit) {
      // A callout sees every command after its handler ran; here it stamps the answers of greet.
      handle.registerCallout('command_processed', (bag) => {
        if (bag.command !== 'greet') return 'continue';
        logger.info({ msgId: 'GREETER_AUDIT', command: bag.command, result: bag.response.result }, 'greet audited');
        bag.response = { ...bag.response, arguments: { ...bag.response.arguments, audited: true } };
        return 'continue';
      });
    }
    handle.registerStatus('greeter', () => ({ greeted: Object.fromEntries(counts) }));
  },

  unload() {
    counts = undefined;
  },
};
