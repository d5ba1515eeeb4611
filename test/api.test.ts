/**
 * The public API a user imports: a small top-level surface of workflow calls, and the building
 * blocks behind subpath exports declared in package.json (`flipguard/graph`, …).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** Every .ts file under src/: its path, its path relative to src/ and its text. */
function sourceFiles(dir = SRC): { path: string; rel: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [{ path, rel: relative(SRC, path), text: readFileSync(path, 'utf8') }] : [];
  });
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> };

test('the package root exports the workflow-level calls and fewer than 80 names', async () => {
  const api = await import('flipguard');
  const names = Object.keys(api);
  assert.ok(names.length < 80, `${names.length} runtime names exported from the root`);
  // values and types: every name in src/index.ts's export lists
  const text = readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8');
  const all = [...text.matchAll(/^export\s*\{([^}]*)\}/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
  assert.ok(!/^export\s+\*/m.test(text), 'no export * at the root');
  assert.ok(all.length < 80, `${all.length} names (values and types) exported from the root`);
  assert.ok(all.length > names.length, 'the count includes the types');
  for (const f of ['loadModel', 'evaluate', 'runCampaign', 'mergeRuns', 'rank', 'harden', 'hardenSweep', 'prune', 'train', 'writeReport', 'runDemo', 'loadDataset']) {
    assert.equal(typeof (api as Record<string, unknown>)[f], 'function', `${f} is exported`);
  }
});

test('every subpath export in package.json resolves to a module with exports', async () => {
  const subpaths = Object.keys(pkg.exports).filter((k) => k.startsWith('./') && k !== './package.json');
  assert.ok(subpaths.length >= 12);
  for (const sub of subpaths) {
    const mod = await import(`flipguard/${sub.slice(2)}`);
    assert.ok(Object.keys(mod).length > 0, `flipguard/${sub.slice(2)} exports names`);
  }
  const graph = await import('flipguard/graph');
  assert.equal(typeof graph.decodeModel, 'function');
  const runtime = await import('flipguard/runtime');
  assert.equal(typeof runtime.createSession, 'function');
});

test('only src/runtime/ imports onnxruntime-node', async () => {
  const offenders = sourceFiles().filter((f) => /from\s+['"]onnxruntime-node['"]|import\(['"]onnxruntime-node['"]\)/.test(f.text)).map((f) => f.rel);
  assert.ok(offenders.length > 0, 'runtime/ imports it');
  assert.deepEqual(offenders.filter((p) => !p.startsWith('runtime/')), []);
});

test('src/ has no import cycles (value imports; `import type` is erased)', async () => {
  const deps = new Map<string, string[]>();
  for (const { path: p, text } of sourceFiles()) {
    const out: string[] = [];
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'(\.[^']+)\.js'/gm)) out.push(normalize(join(dirname(p), `${m[1]}.ts`)));
    deps.set(p, out);
  }
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const visit = (u: string, stack: string[]): void => {
    state.set(u, 1);
    stack.push(u);
    for (const v of deps.get(u) ?? []) {
      if (state.get(v) === 1) cycles.push([...stack.slice(stack.indexOf(v)), v].map((f) => relative(SRC, f)).join(' → '));
      else if (!state.has(v)) visit(v, stack);
    }
    stack.pop();
    state.set(u, 2);
  };
  for (const f of deps.keys()) if (!state.has(f)) visit(f, []);
  assert.ok(deps.size > 100, 'the walk found the sources');
  assert.deepEqual(cycles, []);
});

test('library errors name option fields; the CLI turns them into flags', async () => {
  const { withFlags, opt, FlipguardError } = await import('../src/errors.js');
  assert.equal(withFlags(`The ${opt('threads')} must be a whole number ≥ 1, got 0.`), '--threads must be a whole number ≥ 1, got 0.');
  assert.equal(withFlags(`No folder was given; set ${opt('dataDir')} to the folder.`), 'No folder was given; set --data-dir to the folder.');
  const { evaluate } = await import('flipguard');
  const { buildModel } = await import('flipguard/models');
  const model = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 });
  const data = { name: 'zeros', x: new Float32Array(2 * 784), y: new Uint8Array(2), shape: [1, 28, 28], count: 2, classes: 10 };
  await assert.rejects(evaluate(model, data, { batch: 0 }), (e: unknown) => e instanceof FlipguardError && e.message === 'The option "batch" must be a whole number ≥ 1, got 0.');
});

test('library errors outside src/cli/ name option fields, never flipguard\'s CLI flags', async () => {
  const offenders: string[] = [];
  for (const f of sourceFiles().filter((x) => !x.rel.startsWith('cli/'))) {
    f.text.split('\n').forEach((line, i) => {
      if (!/FlipguardError\(|FieldError\(/.test(line)) return;
      // a quoted command that wrote a file ("flipguard rank --json") and scheduler flags (sbatch --array) are not ours
      const text = line.replace(/"flipguard [^"]*"/g, '').replace(/--array=/g, '');
      if (/--[a-z]/.test(text)) offenders.push(`${f.rel}:${i + 1}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test('one version: package.json, the CLI and written models agree', async () => {
  const { FLIPGUARD_VERSION } = await import('../src/defaults.js');
  const pkgVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  assert.equal(FLIPGUARD_VERSION, pkgVersion);
  const { execFileSync } = await import('node:child_process');
  const cli = new URL('../src/cli/main.js', import.meta.url).pathname;
  assert.equal(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim(), pkgVersion);
  // the package's bin runs as a program (its executable bit lives in git, so npx works on a fresh clone)
  const bin = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> }).bin.flipguard;
  assert.equal(execFileSync(new URL(`../../${bin}`, import.meta.url).pathname, ['--version'], { encoding: 'utf8' }).trim(), pkgVersion);
});
