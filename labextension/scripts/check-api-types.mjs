// Check the client against muscode_ext/openapi.yaml.
//
// The API types themselves come from the document (src/types.ts derives them from
// the generated src/__generated__/openapi.ts), so they cannot drift. What is left to
// check is what the client says of the document:
// 1. tsc compiles test/api-types.check.ts, which fails on a path the client calls
//    that the document does not list (and CONTRACT_ONLY_PATHS does not excuse), and
//    on an operation whose documented reply is not the type the client expects;
// 2. paths of the contract the document now lists are reported, so that
//    CONTRACT_ONLY_PATHS can shrink.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generate } from './generate-api-types.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = await generate();

try {
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'tsconfig.apicheck.json')
    ],
    {
      stdio: 'inherit',
      cwd: root
    }
  );
} catch {
  console.error('check:api: the client differs from muscode_ext/openapi.yaml (see above)');
  process.exit(1);
}

const generated = readFileSync(out, 'utf-8');
const clientPaths = readFileSync(join(root, 'src', 'client', 'paths.ts'), 'utf-8');
const block = clientPaths.slice(clientPaths.indexOf('export const CONTRACT_ONLY_PATHS'));
const contractOnly = [...block.slice(0, block.indexOf('] as const')).matchAll(/'([^']+)'/g)].map(
  m => m[1]
);
const listed = contractOnly.filter(p => generated.includes(`    "${p}": {`));
if (listed.length) {
  console.log(
    `check:api: the document now lists ${listed.join(', ')}: drop them from CONTRACT_ONLY_PATHS`
  );
}
console.log('check:api: the client matches muscode_ext/openapi.yaml');
