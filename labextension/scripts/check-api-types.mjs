// Check src/types.ts (and the paths the client calls) against muscode_ext/openapi.yaml.
//
// 1. openapi-typescript turns the document into src/__generated__/openapi.ts;
// 2. tsc compiles test/api-types.check.ts, which fails on any difference;
// 3. paths of the contract the document now lists are reported, so that
//    CONTRACT_ONLY_PATHS can shrink.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import openapiTS, { astToString } from 'openapi-typescript';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const spec = join(root, '..', 'muscode_ext', 'openapi.yaml');
const out = join(root, 'src', '__generated__', 'openapi.ts');

const ast = await openapiTS(new URL(`file://${spec}`), { defaultNonNullable: false });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `// Generated from muscode_ext/openapi.yaml by jlpm check:api. Do not edit.\n${astToString(ast)}`
);
console.log(`check:api: generated ${out}`);

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
  console.error(
    'check:api: src/types.ts or the client paths differ from muscode_ext/openapi.yaml (see above)'
  );
  process.exit(1);
}

const generated = readFileSync(out, 'utf-8');
const request = readFileSync(join(root, 'src', 'request.ts'), 'utf-8');
const block = request.slice(request.indexOf('export const CONTRACT_ONLY_PATHS'));
const contractOnly = [...block.slice(0, block.indexOf('] as const')).matchAll(/'([^']+)'/g)].map(
  m => m[1]
);
const listed = contractOnly.filter(p => generated.includes(`    "${p}": {`));
if (listed.length) {
  console.log(
    `check:api: the document now lists ${listed.join(', ')}: drop them from CONTRACT_ONLY_PATHS`
  );
}
console.log('check:api: src/types.ts matches muscode_ext/openapi.yaml');
