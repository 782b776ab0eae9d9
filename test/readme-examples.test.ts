/**
 * The TypeScript examples of README.md and docs/*.md are real code: each
 * ```ts block imports from 'convkit' (never from the source tree) and
 * type-checks against today's API. The names the prose assumes (model, x,
 * y, history, batch, rng, ...) are declared with their types; each block is
 * written to test/.readme-examples/ and checked by tsc with the repo's
 * settings and 'convkit' mapped to src/index.ts. Links between the pages
 * must lead to files and headings that exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { writeSyntheticSet } from './train-synthetic.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'test', '.readme-examples');

/** Modules an example may import: convkit itself, and TensorFlow.js to show that saved models are plain TF.js. */
const ALLOWED_IMPORTS = new Set(['convkit', '@tensorflow/tfjs']);

/** Names the prose assumes without defining them, with their types. */
const ASSUMED: Record<string, string> = {
  model: "import('@tensorflow/tfjs').LayersModel",
  x: "import('@tensorflow/tfjs').Tensor4D",
  y: "import('@tensorflow/tfjs').Tensor",
  batch: "import('@tensorflow/tfjs').Tensor4D",
  rng: "import('convkit').Rng",
  history: "import('convkit').report.HistoryInput",
  matrix: 'number[][]',
  tiles: "import('convkit').report.GridTile[]",
  trainData: "import('convkit').train.BatchData",
  validationData: "import('convkit').train.BatchData",
  backend: "import('convkit').BackendInfo",
  title: 'string',
  dataset: "import('convkit').report.DatasetInfo",
  steps: "import('convkit').report.StepReport[]",
};

interface Example {
  /** Markdown file, relative to the repo root. */
  doc: string;
  /** Line of the first code line in the Markdown file (1-based). */
  line: number;
  code: string;
}

function markdownFiles(): string[] {
  const docs = existsSync(join(ROOT, 'docs'))
    ? readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => `docs/${f}`)
    : [];
  return ['README.md', ...docs];
}

/** The ```ts (or ```typescript) blocks of a Markdown text. */
export function tsBlocks(text: string): { line: number; code: string }[] {
  const lines = text.split('\n');
  const blocks: { line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++;
    assert.ok(end < lines.length, `unclosed code block at line ${i + 1}`);
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

function examples(): Example[] {
  return markdownFiles().flatMap((doc) => tsBlocks(readFileSync(join(ROOT, doc), 'utf8')).map((b) => ({ doc, ...b })));
}

/** Module specifiers a block imports (static imports, re-exports, dynamic imports, require). */
function importedModules(source: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      found.push(node.moduleSpecifier.text);
    if (
      ts.isCallExpression(node) &&
      node.arguments.length > 0 &&
      ts.isStringLiteralLike(node.arguments[0]!) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      found.push(node.arguments[0].text);
    }
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) found.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Names a block declares at its top level (imports, variables, functions, classes). */
function declaredNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bind(el.name);
  };
  for (const s of source.statements) {
    if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) bind(d.name);
    else if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) && s.name) names.add(s.name.text);
    else if (ts.isImportDeclaration(s) && s.importClause) {
      const c = s.importClause;
      if (c.name) names.add(c.name.text);
      if (c.namedBindings && ts.isNamespaceImport(c.namedBindings)) names.add(c.namedBindings.name.text);
      else if (c.namedBindings) for (const el of c.namedBindings.elements) names.add(el.name.text);
    }
  }
  return names;
}

function fileNameOf(ex: Example): string {
  return `${ex.doc.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-')}-L${ex.line}.ts`;
}

const all = examples();
const parsed = all.map((ex) => ({ ex, source: ts.createSourceFile(fileNameOf(ex), ex.code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS) }));

test('README.md and docs/ hold TypeScript examples', () => {
  assert.ok(
    all.some((ex) => ex.doc === 'README.md'),
    'README.md has no ```ts example',
  );
  assert.ok(all.length >= 5, `only ${all.length} examples found`);
});

test('every example imports from convkit, not from the source tree', () => {
  const problems: string[] = [];
  for (const { ex, source } of parsed) {
    const modules = importedModules(source);
    if (!modules.includes('convkit')) problems.push(`${ex.doc}:${ex.line}: does not import from 'convkit'`);
    for (const m of modules)
      if (!ALLOWED_IMPORTS.has(m))
        problems.push(`${ex.doc}:${ex.line}: imports from '${m}' (only ${[...ALLOWED_IMPORTS].map((a) => `'${a}'`).join(', ')} are allowed)`);
  }
  assert.deepEqual(problems, []);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces → '-'. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(text: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

test('links between README.md and docs/ lead to files and headings that exist', () => {
  const problems: string[] = [];
  for (const doc of markdownFiles()) {
    const text = readFileSync(join(ROOT, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [path, anchor] = target!.split('#');
      const file = path ? resolve(ROOT, dirname(doc), path) : join(ROOT, doc);
      if (!existsSync(file)) problems.push(`${doc}: link to missing ${target}`);
      else if (anchor && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
        problems.push(`${doc}: no heading #${anchor} in ${relative(ROOT, file)}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every example type-checks against the library', () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const where = new Map<string, Example>();
  for (const { ex, source } of parsed) {
    const declared = declaredNames(source);
    const assumed = Object.entries(ASSUMED)
      .filter(([name]) => !declared.has(name))
      .map(([name, type]) => `declare const ${name}: ${type};`);
    // One prelude line, so a diagnostic's line N is the block's line N - 1; `export {}` keeps a block without imports a module.
    const file = fileNameOf(ex);
    writeFileSync(join(WORK, file), `${assumed.join(' ')}\n${ex.code}\nexport {};\n`);
    where.set(file, ex);
  }
  writeFileSync(
    join(WORK, 'tsconfig.json'),
    JSON.stringify(
      {
        extends: '../../tsconfig.json',
        compilerOptions: {
          noEmit: true,
          rootDir: '../..',
          paths: { convkit: ['../../src/index.ts'] },
        },
        include: ['*.ts'],
      },
      null,
      2,
    ),
  );
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(WORK, 'tsconfig.json'), '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trim();
  // Diagnostics name the generated file; point them at the Markdown line instead.
  const report = out
    .split('\n')
    .map((line) => {
      const m = /^(?:.*[\\/])?([^\\/(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
      const ex = m ? where.get(m[1]!) : undefined;
      return ex ? `${ex.doc}:${ex.line + Number(m![2]) - 2}:${m![3]}: ${m![4]}` : line;
    })
    .join('\n');
  assert.equal(r.status, 0, `tsc found errors in the examples (${relative(ROOT, WORK)}/ holds the checked files):\n${report}`);
});

/**
 * The README's library example runs as written, on a small synthetic set:
 * only its data folder, image sizes and epoch counts are scaled down.
 */
test("the README's library example runs (small synthetic images, one epoch per fit)", { timeout: 300_000 }, async () => {
  const readme = parsed.filter(({ ex }) => ex.doc === 'README.md');
  assert.equal(readme.length, 1, 'README.md has one library example');
  const set = await writeSyntheticSet({ train: 8, validation: 4, test: 4 }, 64, 9);
  const work = mkdtempSync(join(tmpdir(), 'convkit-readme-run-'));
  try {
    const code = readme[0]!.ex.code;
    const scaled = [
      [/'cats_and_dogs_small'/, JSON.stringify(set.root)],
      [/\[150, 150\]/, '[48, 48]'],
      [/\[224, 224\]/, '[64, 64]'],
      [/\.fit\(\d+,/g, '.fit(1,'],
      [/'models\/cats-vs-dogs'/, JSON.stringify(join(work, 'model'))],
    ] as const;
    let run = code;
    for (const [pattern, value] of scaled) {
      assert.match(run, pattern, `the example no longer has ${pattern}`);
      run = run.replace(pattern, value);
    }
    // Inside the project, so that 'convkit' resolves to the package itself, as in a user's project.
    mkdirSync(WORK, { recursive: true });
    const file = join(WORK, 'readme-run.ts');
    writeFileSync(file, run);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    assert.equal(r.status, 0, `the README example failed:\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /accuracy/);
    const meta = JSON.parse(readFileSync(join(work, 'model', 'convkit.json'), 'utf8'));
    assert.deepEqual(meta.classNames, ['left', 'right']);
    assert.deepEqual(meta.inputSize, [64, 64]);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await set.cleanup();
  }
});
