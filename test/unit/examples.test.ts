// Every configuration in examples/ passes the same end-to-end check as `liveset check-config`, for
// every member it describes, so the documentation cannot drift from the schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LivesetServer } from '../../src/core/server.ts';
import { builtinLibraries } from '../../src/hook-libs/builtin.ts';

const dir = fileURLToPath(new URL('../../examples/', import.meta.url));
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));

test('examples/ holds configurations', () => assert.ok(files.length >= 4, files.join(', ')));

for (const file of files) {
  test(`examples/${file} passes check-config for each member`, async () => {
    const prepared = await LivesetServer.check(`${dir}${file}`, undefined, {}, builtinLibraries);
    assert.ok(prepared.length >= 1);
    for (const p of prepared) assert.equal(p.listen.hostname, '127.0.0.1', `${file}: ${p.serverName} must listen on loopback`);
  });
}
