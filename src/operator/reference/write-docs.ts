// `npm run docs`: regenerates docs/reference/ and docs/openrpc.json from schemas/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageDir } from '../package-assets.ts';
import { generateReference } from './generate.ts';

const docs = packageDir('docs');
for (const [path, text] of await generateReference()) {
  const file = join(docs, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote docs/${path}\n`);
}
