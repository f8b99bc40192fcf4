// The import rules of docs/architecture.md, checked on the source tree so that they stay true:
// folders import only folders below them, the daemon never reaches the CLI, errors say what
// went wrong by kind and only the server knows HTTP statuses, and source files stay readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file holding package.json, tsconfig.json and src/ (the test also runs compiled, from dist/tsc, which has a package.json and a src/ of its own). */
function repositoryRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(directory, 'package.json')) && existsSync(join(directory, 'tsconfig.json')) && existsSync(join(directory, 'src')))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('no repository root above this test');
    directory = parent;
  }
  return directory;
}

const ROOT = repositoryRoot();
const SRC = join(ROOT, 'src');

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

const FILES = sourceFiles(SRC);
const TEXT = new Map(FILES.map((file) => [file, readFileSync(file, 'utf8')]));

/** "containers" for src/containers/exec.ts; "." for a file directly in src/. */
const folderOf = (file: string) => {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : '.';
};
const name = (file: string) => relative(ROOT, file);

/** The source files a file imports, type-only imports and re-exports included: they tie folders together for a reader too. */
function importsOf(file: string): string[] {
  const targets: string[] = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const match of TEXT.get(file)!.matchAll(pattern)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    if (!specifier.startsWith('.')) continue;
    const base = resolve(dirname(file), specifier).replace(/\.js$/, '');
    const target = [`${base}.ts`, join(base, 'index.ts')].find((candidate) => TEXT.has(candidate));
    if (target) targets.push(target);
  }
  return targets;
}

const IMPORTS = new Map(FILES.map((file) => [file, importsOf(file)]));

/** Folder -> folders it imports, each edge with one file import that makes it. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const [file, targets] of IMPORTS) {
    for (const target of targets) {
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `${name(file)} -> ${name(target)}`);
    }
  }
  return graph;
}

/** Every cycle's folders, as strongly connected components of more than one folder (Tarjan). */
function folderCycles(graph: Map<string, Map<string, string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (folder: string) => {
    index.set(folder, counter);
    low.set(folder, counter);
    counter++;
    stack.push(folder);
    onStack.add(folder);
    for (const next of graph.get(folder)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(folder, Math.min(low.get(folder)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(folder, Math.min(low.get(folder)!, index.get(next)!));
      }
    }
    if (low.get(folder) !== index.get(folder)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== folder);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const folder of new Set([...graph.keys(), ...[...graph.values()].flatMap((edges) => [...edges.keys()])])) {
    if (!index.has(folder)) visit(folder);
  }
  return cycles;
}

const DOMAIN = [
  'containers', 'images', 'distribution', 'layers', 'content', 'runtime', 'events', 'archive', 'wire', 'errdefs', 'util',
  'network', 'volumes', 'build',
];
const domainFiles = () => FILES.filter((file) => DOMAIN.includes(folderOf(file)));

test('no import cycle between folders of src/', () => {
  const graph = folderGraph();
  const described = folderCycles(graph).map((cycle) => {
    const edges = cycle.flatMap((from) => cycle.filter((to) => graph.get(from)?.has(to)).map((to) => graph.get(from)!.get(to)!));
    return `${cycle.join(' <-> ')}: ${edges.join('; ')}`;
  });
  assert.deepEqual(described, []);
});

test("the daemon's entry reaches no file of cli/ or client/", () => {
  const seen = new Set<string>();
  const pending = [join(SRC, 'daemon', 'main.ts')];
  assert.ok(TEXT.has(pending[0]!), 'src/daemon/main.ts exists');
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    pending.push(...IMPORTS.get(file)!);
  }
  assert.deepEqual([...seen].filter((file) => ['cli', 'client'].includes(folderOf(file))).map(name), []);
});

test('no domain folder imports server/, cli/ or client/', () => {
  const offending = domainFiles().flatMap((file) => IMPORTS.get(file)!
    .filter((target) => ['server', 'cli', 'client'].includes(folderOf(target)))
    .map((target) => `${name(file)} -> ${name(target)}`));
  assert.deepEqual(offending, []);
});

test('archive/ builds only on util/, wire/ and errdefs/', () => {
  const offending = FILES.filter((file) => folderOf(file) === 'archive').flatMap((file) => IMPORTS.get(file)!
    .filter((target) => !['archive', 'util', 'wire', 'errdefs'].includes(folderOf(target)))
    .map((target) => `${name(file)} -> ${name(target)}`));
  assert.deepEqual(offending, []);
});

// The registry clients speak HTTP to registries: the statuses there are the registry's answers.
const REGISTRY_HTTP_CLIENTS = ['distribution/registry-client.ts', 'distribution/auth.ts', 'distribution/search.ts'];

test('errdefs/ and the domain say what went wrong by kind, with no HTTP status', () => {
  const lines = (file: string) => TEXT.get(file)!.split('\n').map((line, at) => ({ line, where: `${name(file)}:${at + 1}` }));
  const errdefs = FILES.filter((file) => folderOf(file) === 'errdefs')
    .flatMap(lines).filter(({ line }) => /\b[1-5]\d\d\b/.test(line.replace(/\/\/.*$/, '')));
  assert.deepEqual(errdefs.map(({ where }) => where), [], 'errdefs/ holds no status numbers');
  const statusLike = [
    /\bApiError\b/,
    /\.status\s*[!=]==?\s*[1-5]\d\d\b/,
    /\bstatus\s*[!=]==?\s*[1-5]\d\d\b/,
    /\b[1-5]\d\d\s*[!=]==?\s*\w*\.?status\b/,
  ];
  const domain = domainFiles().filter((file) => !REGISTRY_HTTP_CLIENTS.includes(relative(SRC, file)))
    .flatMap(lines).filter(({ line }) => statusLike.some((pattern) => pattern.test(line)));
  assert.deepEqual(domain.map(({ where, line }) => `${where}: ${line.trim()}`), []);
});

const LONG_FILES_ALLOWED = ['cli/template.ts'];
const MAX_LINES = 700;

test(`no source file in src/ is over ${MAX_LINES} lines`, () => {
  const long = FILES.filter((file) => !LONG_FILES_ALLOWED.includes(relative(SRC, file)))
    .map((file) => ({ file: name(file), lines: TEXT.get(file)!.split('\n').length - (TEXT.get(file)!.endsWith('\n') ? 1 : 0) }))
    .filter(({ lines }) => lines > MAX_LINES);
  assert.deepEqual(long, []);
});
