// Check the shape of src/: no module over MAX_LINES lines (the generated API types
// aside) and no import cycle between modules (type-only imports count too). Fails
// naming the long modules and one cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';

const MAX_LINES = 600;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function modules(dir) {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return name === '__generated__' ? [] : modules(path);
    }
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The module a relative specifier of `from` names, or null (a package, a generated file). */
function resolveImport(from, specifier) {
  if (!specifier.startsWith('.')) {
    return null;
  }
  const base = resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    if (files.includes(candidate)) {
      return candidate;
    }
  }
  return null;
}

const files = modules(src);
const problems = [];
const imports = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf-8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) {
    problems.push(`${relative(root, file)} has ${lines} lines (at most ${MAX_LINES})`);
  }
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const targets = new Set();
  for (const statement of source.statements) {
    const spec = statement.moduleSpecifier;
    if (spec && ts.isStringLiteral(spec)) {
      const target = resolveImport(file, spec.text);
      if (target) {
        targets.add(target);
      }
    }
  }
  imports.set(file, [...targets].sort());
}

// Depth-first search; a module met again while still on the path closes a cycle.
const state = new Map();
const path = [];
function visit(file) {
  state.set(file, 'open');
  path.push(file);
  for (const next of imports.get(file)) {
    if (state.get(next) === 'open') {
      const cycle = [...path.slice(path.indexOf(next)), next].map(f => relative(src, f));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
      return false;
    }
    if (!state.has(next) && !visit(next)) {
      return false;
    }
  }
  path.pop();
  state.set(file, 'done');
  return true;
}
for (const file of files.sort()) {
  if (!state.has(file) && !visit(file)) {
    break;
  }
}

if (problems.length) {
  for (const problem of problems) {
    console.error(`check:layout: ${problem}`);
  }
  process.exit(1);
}
console.log(
  `check:layout: ${files.length} modules in src/, none over ${MAX_LINES} lines, no import cycle`
);
