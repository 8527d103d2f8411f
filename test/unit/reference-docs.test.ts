import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateReference } from '../../src/operator/reference/generate.ts';
import { builtinCommands } from '../../src/operator/reference/dry-run-registry.ts';
import { packageDir } from '../../src/operator/package-assets.ts';
import { ERROR_CATALOGUE } from '../../src/core/errors.ts';
import { readdirSync } from 'node:fs';

const docs = packageDir('docs');

test('docs/reference and docs/openrpc.json are what `npm run docs` generates from schemas/', { timeout: 60_000 }, async () => {
  for (const [path, text] of await generateReference()) {
    let committed = '';
    try {
      committed = readFileSync(join(docs, path), 'utf8');
    } catch {
      assert.fail(`docs/${path} is missing: run \`npm run docs\` and commit the result`);
    }
    assert.ok(committed === text, `docs/${path} is out of date with schemas/: run \`npm run docs\` and commit the result`);
  }
});

test('a changed schema changes the generated docs (so the check above catches stale docs)', { timeout: 60_000 }, async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'liveset-schemas-'));
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(packageDir('schemas'), copy, { recursive: true });
  const before = await generateReference(copy);
  const command = join(copy, 'commands', 'ha-continue.json');
  const schema = JSON.parse(readFileSync(command, 'utf8'));
  schema.arguments.properties['origin-id'] = { type: 'integer', description: 'a new argument' };
  writeFileSync(command, JSON.stringify(schema));
  const top = join(copy, 'liveset.schema.json');
  const config = JSON.parse(readFileSync(top, 'utf8'));
  config.properties.server.properties['new-key'] = { type: 'string', default: 'x', description: 'a new key' };
  writeFileSync(top, JSON.stringify(config));
  const after = await generateReference(copy);
  assert.notEqual(after.get('reference/commands.md'), before.get('reference/commands.md'));
  assert.match(after.get('reference/commands.md') ?? '', /`origin-id` \| integer/);
  assert.notEqual(after.get('openrpc.json'), before.get('openrpc.json'));
  assert.match(after.get('reference/configuration.md') ?? '', /`server\.new-key` \| string \| `"x"` \| `"x"` \| a new key \|/);
});

test('the reference names the library that registers each command, found by loading the libraries', { timeout: 60_000 }, async () => {
  const commands = await builtinCommands();
  const owner = new Map(commands.map((c) => [c.name, c.library]));
  assert.equal(owner.get('status-get'), 'core');
  assert.equal(owner.get('rpc.discover'), 'core');
  assert.equal(owner.get('ha-continue'), 'ha');
  assert.equal(owner.get('pool.designate_new_master'), 'pool');
  const openrpc = JSON.parse(readFileSync(join(docs, 'openrpc.json'), 'utf8'));
  assert.match(openrpc.openrpc, /^1\.\d+\.\d+$/);
  const designate = openrpc.methods.find((m: { name: string }) => m.name === 'pool.designate_new_master');
  assert.deepEqual(designate.params.map((p: { name: string }) => p.name), ['session_id', 'host']);
  assert.equal(designate.paramStructure, 'either');
  assert.ok(designate.errors.some((e: { message: string }) => e.message === 'SESSION_INVALID'));
});

test('errors a command schema declares are names of the error catalogue', () => {
  const dir = join(packageDir('schemas'), 'commands');
  for (const file of readdirSync(dir)) {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { errors?: unknown };
    if (schema.errors === undefined) continue;
    assert.ok(Array.isArray(schema.errors), `${file}: errors must be a list`);
    for (const e of schema.errors) assert.ok(Object.hasOwn(ERROR_CATALOGUE, String(e)), `${file}: ${String(e)} is not in src/core/errors.ts`);
  }
});
