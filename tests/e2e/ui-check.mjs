// A static check of the window's ES modules (ui/), run before anything is built: every
// name a module uses is defined, imported or a browser global (eslint's no-undef), nothing
// is defined and left unused, every import names an export the other module has (the
// modules are linked, as the webview links them, without running them), and the modules
// stand in one direction (app.js -> views -> shared.js; no import circle), and the bundle
// the app embeds (ui/dist/app.js) is exactly what tests/e2e/ui-bundle.mjs makes of them.
//
// Usage: node tests/e2e/ui-check.mjs   (exit 1, with each problem on a line, if any)
import { ESLint } from 'eslint';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { bundle, output, sources } from './ui-bundle.mjs';

const ui = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui');
const files = sources(); // ui/dist/ is the bundle made of them, checked in 4.
const problems = [];

// The browser's names the window uses, and only those: the full list (the `globals`
// package's) holds names such as `when`, `find` and `name` that would hide a helper left
// unimported. A new one is added here on purpose.
const BROWSER = Object.fromEntries([
  'window', 'document', 'navigator', 'Node', 'Event', 'Notification',
  'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'URL', 'URLSearchParams',
].map((n) => [n, 'readonly']));
const rel = (p) => path.relative(ui, p);

// 1. eslint: undefined and unused names, the module grammar.
const eslint = new ESLint({
  cwd: ui,
  overrideConfigFile: true,
  overrideConfig: [{
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: BROWSER,
    },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      'no-redeclare': 'error',
      'no-dupe-keys': 'error',
      'no-unreachable': 'error',
      'no-const-assign': 'error',
      'no-import-assign': 'error',
      'no-shadow-restricted-names': 'error',
    },
  }],
});
for (const r of await eslint.lintFiles(files)) {
  for (const m of r.messages) problems.push(`${rel(r.filePath)}:${m.line}:${m.column}: ${m.message} (${m.ruleId || 'parse'})`);
}

// 2. Link the module graph: a missing export or a wrong path fails here as in the webview.
const modules = new Map();
function load(file) {
  if (modules.has(file)) return modules.get(file);
  const m = new vm.SourceTextModule(fs.readFileSync(file, 'utf8'), { identifier: rel(file) });
  modules.set(file, m);
  return m;
}
const edges = [];
async function linker(specifier, referencing) {
  const from = path.join(ui, referencing.identifier);
  const to = path.resolve(path.dirname(from), specifier);
  if (!to.startsWith(ui + path.sep) || !fs.existsSync(to)) throw new Error(`${referencing.identifier} imports ${specifier}, which is not a file in ui/`);
  edges.push([rel(from), rel(to)]);
  return load(to);
}
try {
  await load(path.join(ui, 'app.js')).link(linker);
} catch (e) {
  problems.push(`linking: ${e.message}`);
}
for (const f of files) if (!modules.has(f)) problems.push(`${rel(f)}: not imported by app.js (directly or not): dead code?`);

// 3. Direction: shared.js imports nothing, nothing imports app.js, and there is no circle
// (a view reaches one that stands above it through `go`, which app.js fills).
const out = new Map();
for (const [a, b] of edges) {
  if (a === 'shared.js') problems.push(`shared.js imports ${b}: the shared module names no view`);
  if (b === 'app.js') problems.push(`${a} imports app.js: reach it through \`go\``);
  out.set(a, [...(out.get(a) || []), b]);
}
const done = new Set();
function visit(f, trail) {
  if (trail.includes(f)) {
    problems.push(`import circle: ${[...trail.slice(trail.indexOf(f)), f].join(' -> ')}`);
    return;
  }
  if (done.has(f)) return;
  for (const g of out.get(f) || []) visit(g, [...trail, f]);
  done.add(f);
}
visit('app.js', []);

// 4. The bundle the app embeds is made of exactly these modules, by the pinned esbuild.
if (!fs.existsSync(output) || fs.readFileSync(output, 'utf8') !== await bundle()) {
  problems.push(`${path.relative(path.dirname(ui), output)} is not the bundle of ui/'s modules as they are: run \`node tests/e2e/ui-bundle.mjs\` (a build of the app does it too) and commit it`);
}

if (problems.length) {
  console.error(`ui-check: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(`ui-check: ${files.length} modules, ${edges.length} imports, no problems`);
