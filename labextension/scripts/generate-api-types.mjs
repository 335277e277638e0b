// Generate src/__generated__/openapi.ts from muscode_ext/openapi.yaml with openapi-typescript.
//
// src/types.ts derives the API types from this file, so every build (and the unit
// tests) runs this first: a schema added to the document is a type at once, and a
// change the client does not follow fails the TypeScript build. The file is not
// committed; it is rewritten only when its text changes (watchers stay quiet).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import openapiTS, { astToString } from 'openapi-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const spec = join(root, '..', 'muscode_ext', 'openapi.yaml');
export const generated = join(root, 'src', '__generated__', 'openapi.ts');

/** Write the types of the document; resolves with the generated file's path. */
export async function generate() {
  const ast = await openapiTS(new URL(`file://${spec}`), { defaultNonNullable: false });
  const text = `// Generated from muscode_ext/openapi.yaml by jlpm build:api. Do not edit.\n${astToString(ast)}`;
  if (!existsSync(generated) || readFileSync(generated, 'utf-8') !== text) {
    mkdirSync(dirname(generated), { recursive: true });
    writeFileSync(generated, text);
    console.log(`build:api: generated ${relative(root, generated)}`);
  }
  return generated;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await generate();
}
