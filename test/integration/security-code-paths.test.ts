// Code runs only from trusted places: built-in libraries or server.hooks-directory; nothing sent over
// the API names a new module or file (issue 10, Kea's CVE-2025-32801/32802 class).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, keaCommand, startLiveset } from '../helpers/liveset.ts';

const greeterPath = fileURLToPath(new URL('../../examples/libraries/greeter.mjs', import.meta.url));

test('a module named over the API is refused and never runs; libraries load only from the hooks directory', { timeout: 120_000 }, async (t) => {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'liveset-codepaths-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The attacker's module: importing it writes a marker file.
  const outside = mkdtempSync(join(tmpdir(), 'liveset-evil-'));
  t.after(() => rmSync(outside, { recursive: true, force: true }));
  const marker = join(outside, 'ran');
  const evil = join(outside, 'evil.mjs');
  writeFileSync(evil, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport const library = { name: 'evil', apiVersion: 1, parametersSchema: {}, load() {}, unload() {} };\n`);
  // The operator's library, in the configured hooks directory.
  mkdirSync(join(dir, 'hooks'));
  copyFileSync(greeterPath, join(dir, 'hooks', 'greeter.mjs'));
  const server = { listen: `http://127.0.0.1:${port}/`, 'hooks-directory': './hooks' };
  const config = (libraries: unknown[], extra: Record<string, unknown> = {}) => ({ server: { ...server, ...extra }, logging: { level: 'info' }, 'hooks-libraries': libraries });
  const greeter = { library: './hooks/greeter.mjs', parameters: { greeting: 'Hello' } };
  const file = join(dir, 'liveset.json');
  writeFileSync(file, JSON.stringify(config([greeter])));
  const s = await startLiveset({ config: file });
  t.after(() => s.stop());
  assert.equal((await keaCommand(s.url, 'greet', { name: 'op' })).text, 'Hello, op!', 'a library from the hooks directory loads');

  for (const command of ['config-test', 'config-set']) {
    const answer = await keaCommand(s.url, command, config([greeter, { library: evil }]));
    assert.equal(answer.result, 1, command);
    assert.match(answer.text ?? '', new RegExp(`hooks-libraries: cannot be changed with ${command}: .*edit the configuration file and run config-reload`));
    const swapped = await keaCommand(s.url, command, config([{ library: evil }]));
    assert.match(swapped.text ?? '', /hooks-libraries\[0\]\.library: cannot be changed/);
    for (const [key, value] of [['data-dir', join(outside, 'data')], ['hooks-directory', outside]] as const) {
      const moved = await keaCommand(s.url, command, config([greeter], { [key]: value }));
      assert.equal(moved.result, 1);
      assert.match(moved.text ?? '', new RegExp(`server\\.${key}: cannot be changed with ${command}`));
    }
    const auth = await keaCommand(s.url, command, config([greeter], { authentication: { type: 'basic', clients: [{ user: 'me', password: 'x' }] } }));
    assert.match(auth.text ?? '', new RegExp(`server\\.authentication: cannot be changed with ${command}`));
  }
  // What the API may change still works.
  assert.equal((await keaCommand(s.url, 'config-test', config([{ ...greeter, parameters: { greeting: 'Hi' } }]))).text, 'Configuration seems sane.');
  assert.equal((await keaCommand(s.url, 'config-set', config([{ ...greeter, parameters: { greeting: 'Hi' } }]))).result, 0);
  assert.equal((await keaCommand(s.url, 'greet', { name: 'op' })).text, 'Hi, op!');

  // Even in the file, a module outside the hooks directory is refused before it is imported.
  writeFileSync(file, JSON.stringify(config([greeter, { library: evil }])));
  const reload = await keaCommand(s.url, 'config-reload');
  assert.equal(reload.result, 1);
  assert.match(reload.text ?? '', /hooks-libraries\[1\]\.library: cannot load library '.*evil\.mjs': .*is outside the hooks directory .*; only built-in libraries and modules in server\.hooks-directory are loaded/);
  assert.equal(existsSync(marker), false, 'the module never ran');
});
