import { pointerToPath } from '../schema-validator.ts';
import type { LivesetConfig } from './config-types.ts';
import type { ResolvedLibrary } from '../hooks/library-resolution.ts';
import { redactSecrets } from '../redact.ts';
import configSchema from '../../../schemas/liveset.schema.json' with { type: 'json' };

type Schema = Record<string, unknown>;

/**
 * The values at every `x-trusted` key of `value` (keys that name code to run or files to read:
 * libraries, scripts, password and key files, directories), by JSON pointer. Follows `properties`,
 * `items` and local `$ref`s; a value of the wrong shape just has no trusted keys below it.
 */
function trustedValues(schema: Schema, value: unknown, root: Schema, pointer = '', out = new Map<string, string>()): Map<string, string> {
  const ref = schema['$ref'];
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    let target: unknown = root;
    for (const part of ref.slice(2).split('/')) target = (target as Schema | undefined)?.[part];
    if (target && typeof target === 'object') trustedValues(target as Schema, value, root, pointer, out);
  }
  if (schema['x-trusted'] === true) {
    out.set(pointer, JSON.stringify(value ?? null));
    return out;
  }
  const props = schema['properties'] as Record<string, Schema> | undefined;
  if (props) {
    for (const [key, sub] of Object.entries(props)) {
      const v = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
      trustedValues(sub, v, root, `${pointer}/${key}`, out);
    }
  }
  const items = schema['items'] as Schema | undefined;
  if (items && Array.isArray(value)) value.forEach((v, i) => trustedValues(items, v, root, `${pointer}/${i}`, out));
  return out;
}

function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k));
}

/**
 * What a configuration sent over the API (`config-set`, `config-test`) would change that only the
 * file may change: library modules, scripts, password/key files, directories and
 * server.authentication. Empty when nothing locked changes. Nothing is imported or read here, so
 * a refused configuration never runs code.
 *
 * `server.authentication` sent back as config-get shows it (passwords as `*****`) counts as
 * unchanged, and the running credentials are put back into `proposed` so a config-get → edit →
 * config-set round trip keeps working.
 */
export function lockedChanges(running: LivesetConfig, libs: readonly ResolvedLibrary[], proposed: LivesetConfig, command: string): string[] {
  const root = configSchema as Schema;
  const runningAuth = running.server?.authentication;
  const proposedServer = proposed.server as (LivesetConfig['server'] & Record<string, unknown>) | undefined;
  if (runningAuth && proposedServer?.authentication !== undefined) {
    const same = JSON.stringify(redactSecrets(proposedServer.authentication)) === JSON.stringify(redactSecrets(runningAuth))
      && JSON.stringify(proposedServer.authentication).includes('*****');
    if (same) (proposedServer as Record<string, unknown>)['authentication'] = runningAuth;
  }
  const fields = changed(trustedValues(root, running, root), trustedValues(root, proposed, root));
  const runningLibs = running['hooks-libraries'];
  const proposedLibs = Array.isArray(proposed['hooks-libraries']) ? proposed['hooks-libraries'] : [];
  if (runningLibs.length !== proposedLibs.length) fields.push('/hooks-libraries');
  else if (!fields.some((f) => f.startsWith('/hooks-libraries/'))) {
    // Same modules in the same order: their parameters' trusted keys (notify scripts, secret files).
    for (const lib of libs) {
      const schema = lib.library.parametersSchema;
      const before = trustedValues(schema, runningLibs[lib.index]?.parameters, schema, `/hooks-libraries/${lib.index}/parameters`);
      const after = trustedValues(schema, proposedLibs[lib.index]?.parameters, schema, `/hooks-libraries/${lib.index}/parameters`);
      fields.push(...changed(before, after));
    }
  }
  return fields.map(
    (f) => `${pointerToPath('', f) || '(top level)'}: cannot be changed with ${command}: it names code or files the server runs or reads; edit the configuration file and run config-reload`,
  );
}
