/**
 * Outputs never clobber, and mistakes get one sentence: every command that writes refuses an
 * existing target (exit 2, the file unchanged byte for byte) unless --force, never writes over its
 * input, refuses links and special files, keeps a report folder's unrelated files; negative numbers
 * and limits get their range messages; stale locks and write errors are named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';
import { RecordWriter } from '../src/campaign/records.js';
import { bindNegativeValues } from '../src/cli/args.js';
import { MANIFEST_NAME, checkOutputPath, ioErrorMessage, prepareOutputDir, writeFileSafe } from '../src/util/fs-safe.js';
import { writeReport } from '../src/report/index.js';
import { writeSampleInputs } from './fixtures/report-sample.js';
import { loadDataset, loadModel, runCampaign } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const cli = join(here, '..', 'src', 'cli', 'main.js');
const LENET = join(repoRoot, 'models', 'lenet5-mnist.onnx');
const root = mkdtempSync(join(tmpdir(), 'flipguard-outputs-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => { const d = join(root, `t${n++}`); mkdirSync(d); return d; };

function run(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args, '--quiet'], { encoding: 'utf8', cwd, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Exit 2 with exactly one "flipguard: …" sentence matching `re`, and no stack trace. */
function assertRefused(r: { code: number | null; err: string }, re: RegExp): void {
  assert.equal(r.code, 2, r.err);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0], /^flipguard: /);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.err, /\n\s+at |internal error|this is a bug/i);
}

const USER = 'the user\'s own bytes\n';

test('every command that writes a file refuses an existing target without --force and leaves it byte for byte', () => {
  const d = fresh();
  const model = join(d, 'm.onnx');
  copyFileSync(LENET, model);
  const target = join(d, 'taken');
  writeFileSync(target, USER);
  const cases: string[][] = [
    ['info', model, '--json', target],
    ['evaluate', model, '--limit', '20', '--json', target],
    ['rank', model, '--method', 'l1', '--json', target],
    ['harden', model, '--method', 'ranger', '--out', target],
    ['harden', model, '--method', 'ranger', '--out', join(d, 'h.onnx'), '--json', target],
    ['prune', model, '--conv', '0.25', '--epochs', '0', '--out', target],
    ['train', '--arch', 'lenet5', '--epochs', '1', '--out', target],
    ['inject', model, '--ber', '1e-6', '--trials', '1', '--json', target],
    ['merge', join(d, 'nothing.jsonl'), '--json', target],
    ['merge', join(d, 'nothing.jsonl'), '--out', target],
  ];
  for (const c of cases) {
    const r = run(d, ...c);
    assertRefused(r, /"[^"]*taken" already exists; give a new name, or add --force to replace it\./);
    assert.equal(readFileSync(target, 'utf8'), USER, c.join(' '));
  }
  assert.ok(!existsSync(join(d, 'h.onnx')), 'nothing is computed or written before the refusal');
  assert.deepEqual(readdirSync(d).sort(), ['m.onnx', 'taken'], 'no temporary files are left');
});

test('--force replaces an existing file through a temporary file; info/evaluate/harden/prune outputs are complete', () => {
  const d = fresh();
  const model = join(d, 'm.onnx');
  copyFileSync(LENET, model);
  const json = join(d, 'info.json');
  writeFileSync(json, USER);
  let r = run(d, 'info', model, '--json', json, '--force');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(readFileSync(json, 'utf8')).layers.length > 0, true);
  const out = join(d, 'h.onnx');
  writeFileSync(out, USER);
  r = run(d, 'harden', model, '--method', 'ranger', '--limit', '50', '--out', out, '--force');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(out).subarray(0, 2).toString('hex'), readFileSync(LENET).subarray(0, 2).toString('hex'), 'an ONNX model');
  const ev = join(d, 'eval.json');
  writeFileSync(ev, USER);
  r = run(d, 'evaluate', model, '--limit', '20', '--json', ev, '--force');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(readFileSync(ev, 'utf8')).total, 20);
  assert.deepEqual(readdirSync(d).filter((f) => f.includes('.tmp')), []);
});

test('merge --out: an existing file is refused, --force replaces it once the merge is complete, an input never', async () => {
  const d = fresh();
  const run1 = join(d, 'a.jsonl');
  await runCampaign({ model: loadModel(LENET), data: loadDataset({ data: 'mnist', split: 'test', limit: 10 }), bers: [1e-4], trials: 2, seed: 1, out: run1 });
  const merged = join(d, 'm.jsonl');
  writeFileSync(merged, USER);
  assertRefused(run(d, 'merge', run1, '--out', merged), /"[^"]*m\.jsonl" already exists; give a new name, or add --force/);
  assert.equal(readFileSync(merged, 'utf8'), USER);
  const r = run(d, 'merge', run1, '--out', merged, '--force');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(merged, 'utf8').trim().split('\n').length, readFileSync(run1, 'utf8').trim().split('\n').length);
  const before = readFileSync(run1);
  assertRefused(run(d, 'merge', run1, '--out', run1, '--force'), /is an input of this command; flipguard never writes over its input, even with --force/);
  assert.deepEqual(readFileSync(run1), before);
  assert.deepEqual(readdirSync(d).sort(), ['a.jsonl', 'm.jsonl'], 'no temporary files are left');
});

test('the input model is never written over, even with --force: same path, hard link, or as a campaign record file', () => {
  const d = fresh();
  const model = join(d, 'm.onnx');
  copyFileSync(LENET, model);
  const hard = join(d, 'hard.onnx');
  linkSync(model, hard);
  const before = readFileSync(model);
  const refusedInput = /is an input of this command; flipguard never writes over its input, even with --force/;
  assertRefused(run(d, 'harden', model, '--method', 'ranger', '--out', model, '--force'), refusedInput);
  assertRefused(run(d, 'harden', model, '--method', 'ranger', '--out', hard, '--force'), refusedInput);
  assertRefused(run(d, 'prune', 'm.onnx', '--conv', '0.25', '--epochs', '0', '--out', './m.onnx', '--force'), refusedInput);
  assertRefused(run(d, 'inject', model, '--ber', '1e-6', '--trials', '1', '--out', model), refusedInput);
  assert.deepEqual(readFileSync(model), before);
  // a link to the model is refused as a link
  const soft = join(d, 'soft.onnx');
  symlinkSync(model, soft);
  assertRefused(run(d, 'harden', model, '--method', 'ranger', '--out', soft, '--force'), /"[^"]*soft\.onnx" is a symbolic link; flipguard does not write through links/);
  assert.deepEqual(readFileSync(model), before);
});

test('a symlink, FIFO, device or folder as the target is refused, never replaced or written through', () => {
  const d = fresh();
  const victim = join(d, 'victim.txt');
  writeFileSync(victim, USER);
  const link = join(d, 'link.json');
  symlinkSync(victim, link);
  assertRefused(run(d, 'info', LENET, '--json', link, '--force'), /"[^"]*link\.json" is a symbolic link/);
  assert.equal(readFileSync(victim, 'utf8'), USER);
  const fifo = join(d, 'fifo.json');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  assertRefused(run(d, 'info', LENET, '--json', fifo, '--force'), /"[^"]*fifo\.json" is a special file \(a device, FIFO or socket\)/);
  assertRefused(run(d, 'info', LENET, '--json', '/dev/null', '--force'), /"\/dev\/null" is a special file/);
  assertRefused(run(d, 'inject', LENET, '--ber', '1e-6', '--trials', '1', '--out', fifo), /is a special file/);
  assertRefused(run(d, 'info', LENET, '--json', d, '--force'), /is a folder; give a file name/);
  assert.deepEqual(readdirSync(d).sort(), ['fifo.json', 'link.json', 'victim.txt']);
});

test('output paths under /proc and /sys are refused before any work, with a sentence', () => {
  const d = fresh();
  assertRefused(run(d, 'info', LENET, '--json', '/proc/x/y.json'), /"\/proc\/x\/y\.json" lies under \/proc, which holds kernel interfaces/);
  assertRefused(run(d, 'harden', LENET, '--method', 'ranger', '--out', '/sys/kernel/m.onnx'), /lies under \/sys/);
  assertRefused(run(d, 'report', 'x.json', '--out', '/sys/fg-report'), /The report folder "\/sys\/fg-report" lies under \/sys/);
  assertRefused(run(d, 'harden', LENET, '--sweep', '--variants', 'none', '--trials', '1', '--out-dir', '/sys/fg'), /The output folder "\/sys\/fg" lies under \/sys/);
});

test('report --out: a non-empty folder is refused; with --force only flipguard\'s own files are replaced', () => {
  const d = fresh();
  const inputs = writeSampleInputs(join(d, 'run'), 5);
  const out = join(d, 'report');
  mkdirSync(out);
  writeFileSync(join(out, 'my-notes.csv'), USER);
  let r = run(d, 'report', ...inputs, '--out', out);
  assertRefused(r, /The report folder "[^"]*report" is not empty \(my-notes\.csv\); give a new folder, or add --force/);
  assert.deepEqual(readdirSync(out), ['my-notes.csv']);
  r = run(d, 'report', ...inputs, '--out', out, '--force');
  assert.equal(r.code, 0, r.err);
  const manifest = JSON.parse(readFileSync(join(out, MANIFEST_NAME), 'utf8'));
  assert.ok(manifest.files.includes('report.html') && manifest.files.includes('campaign.csv'));
  assert.ok(!manifest.files.includes('my-notes.csv'));
  // the second run with fewer inputs: flipguard's stale CSV goes, the user's file stays
  r = run(d, 'report', inputs.find((p) => p.endsWith('.summary.json'))!, '--out', out, '--force');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(join(out, 'my-notes.csv'), 'utf8'), USER);
  assert.ok(!existsSync(join(out, 'scores.csv')), 'the earlier report\'s scores.csv was flipguard\'s and is stale');
  assert.ok(existsSync(join(out, 'report.html')));
  // a user file with a name the report needs, not in the manifest, is kept even with --force
  const out2 = join(d, 'report2');
  mkdirSync(out2);
  writeFileSync(join(out2, 'report.html'), USER);
  r = run(d, 'report', ...inputs, '--out', out2, '--force');
  assertRefused(r, /report\.html" already exists and was not written by flipguard in this folder .* so it is kept even with --force/);
  assert.equal(readFileSync(join(out2, 'report.html'), 'utf8'), USER);
});

test('demo --out and harden --sweep --out-dir refuse a non-empty folder up front', () => {
  const d = fresh();
  const out = join(d, 'r');
  mkdirSync(out);
  writeFileSync(join(out, 'keep.txt'), USER);
  assertRefused(run(d, 'demo', '--quick', '--out', out), /The report folder "[^"]*r" is not empty \(keep\.txt\)/);
  assertRefused(run(d, 'harden', LENET, '--sweep', '--variants', 'none', '--trials', '1', '--limit', '20', '--out-dir', out), /The output folder "[^"]*r" is not empty \(keep\.txt\)/);
  assert.deepEqual(readdirSync(out), ['keep.txt']);
});

test('prepareOutputDir: a tampered manifest never removes anything outside the folder, a link, or an input', () => {
  const d = fresh();
  const outside = join(d, 'outside.txt');
  writeFileSync(outside, USER);
  const out = join(d, 'o');
  mkdirSync(out);
  const input = join(out, 'input.json');
  writeFileSync(input, USER);
  writeFileSync(join(out, 'ours.csv'), 'x');
  symlinkSync(outside, join(out, 'link.csv'));
  writeFileSync(join(out, MANIFEST_NAME), JSON.stringify({ flipguard: 'output-manifest', files: ['../outside.txt', outside, 'link.csv', 'input.json', 'ours.csv', 'sub/../../outside.txt'] }));
  assert.throws(() => prepareOutputDir(out), (e: unknown) => e instanceof FlipguardError && /is not empty/.test(e.message));
  const dir = prepareOutputDir(out, { force: true, protect: [input] });
  assert.equal(readFileSync(outside, 'utf8'), USER);
  assert.equal(readFileSync(input, 'utf8'), USER);
  assert.ok(existsSync(join(out, 'link.csv')));
  assert.ok(!existsSync(join(out, 'ours.csv')));
  // writing over the protected input through the folder is refused
  assert.throws(() => dir.write('input.json', 'new'), /is an input of this command/);
  assert.equal(readFileSync(input, 'utf8'), USER);
  // a damaged manifest: flipguard cannot tell its files from the user's, so it refuses
  const bad = join(d, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'a.csv'), USER);
  writeFileSync(join(bad, MANIFEST_NAME), '{not json');
  assert.throws(() => prepareOutputDir(bad, { force: true }), /manifest .* is damaged/);
  assert.equal(readFileSync(join(bad, 'a.csv'), 'utf8'), USER);
});

test('writeFileSafe and the library writers refuse the same targets as the CLI', () => {
  const d = fresh();
  const p = join(d, 'a.json');
  writeFileSafe(p, 'one');
  assert.throws(() => writeFileSafe(p, 'two'), /already exists; give a new name, or add option "force" to replace it/);
  assert.equal(readFileSync(p, 'utf8'), 'one');
  writeFileSafe(p, 'two', { force: true });
  assert.equal(readFileSync(p, 'utf8'), 'two');
  assert.throws(() => checkOutputPath('/proc/self/status', { force: true }), /lies under \/proc/);
  assert.throws(() => checkOutputPath(join(p, 'x.json')), /is a file, not a folder/);
  // the library report writer refuses a non-empty folder just like the CLI
  const inputs = writeSampleInputs(join(d, 'run'), 3);
  assert.throws(() => writeReport({ inputs, outDir: join(d, 'run') }), /report folder .* is not empty/);
});

test('write errors become one sentence naming the file and the fix; records already written survive ENOSPC', () => {
  // /dev/full fails every write with ENOSPC: the record writer's error mapping, as a full disk would
  const w = RecordWriter.open('/dev/full');
  assert.throws(() => { w.writeLine('{"ber":1}', true); }, (e: unknown) => {
    assert.ok(e instanceof FlipguardError);
    assert.match(e.message, /^Cannot write "\/dev\/full" \(ENOSPC: the disk is full; free some space or choose a folder on another disk\)\. The trials recorded before are kept; rerun the same command to resume\.$/);
    return true;
  });
  try { w.close(); } catch { /* fsync of a device may fail too */ }
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(ioErrorMessage(err('EACCES'), 'out/x.json'), 'Cannot write "out/x.json" (EACCES: permission denied; choose a folder you can write to).');
  assert.equal(ioErrorMessage(err('EROFS'), 'x'), 'Cannot write "x" (EROFS: the file system is read-only; choose a writable folder).');
  assert.equal(ioErrorMessage(err('EPERM'), 'd', 'create the folder'), 'Cannot create the folder "d" (EPERM: the operation is not permitted there; choose a folder you can write to).');
});

test('negative numbers parse the same with = or a space, then get the range message', () => {
  const spec = { ber: { kind: 'numbers' as const, help: '' }, quiet: { kind: 'bool' as const, help: '' } };
  assert.deepEqual(bindNegativeValues(['m.onnx', '--ber', '-1', '--quiet', '--', '-2'], spec), ['m.onnx', '--ber=-1', '--quiet', '--', '-2']);
  const d = fresh();
  for (const [flag, value, re] of [
    ['--ber', '-1', /BER -1 is not a probability in \[0, 1\]/],
    ['--trials', '-3', /--trials must be a whole number ≥ 1, got "-3"/],
  ] as const) {
    const spaced = run(d, 'inject', LENET, '--ber', '1e-6', '--limit', '10', flag, value);
    const joined = run(d, 'inject', LENET, '--ber', '1e-6', '--limit', '10', `${flag}=${value}`);
    assertRefused(spaced, re);
    assert.equal(spaced.err, joined.err);
  }
  assertRefused(run(d, 'rank', LENET, '--top', '-1'), /--top must be a whole number ≥ 1, got "-1"/);
  // a negative seed is a valid seed: both spellings plan the same faults
  const a = run(d, 'inject', LENET, '--ber', '1e-4', '--seed', '-1', '--dry-run');
  const b = run(d, 'inject', LENET, '--ber', '1e-4', '--seed=-1', '--dry-run');
  assert.equal(a.code, 0, a.err);
  assert.ok(JSON.parse(a.out).faults.length > 0);
  assert.equal(a.out, b.out);
});

test('limits and missing companions get a sentence naming the option', () => {
  const d = fresh();
  assertRefused(run(d, 'evaluate', LENET, '--threads', '0'), /--threads must be a whole number from 1 to \d+ \(4 × the \d+ cores\), got "0"/);
  assertRefused(run(d, 'evaluate', LENET, '--threads', '1000000'), /--threads must be a whole number from 1 to \d+ \(4 × the \d+ cores\), got "1000000"/);
  assertRefused(run(d, 'inject', LENET, '--ber', '1e-6', '--count', 'fixed'), /--count fixed needs --faults N/);
  assertRefused(run(d, 'train', '--arch', 'lenet5', '--epochs', '1', '--augment=-3', '--out', join(d, 't.onnx')), /--augment must be a whole number ≥ 0, got "-3"/);
  assertRefused(run(d, 'inject', LENET, '--ber', '1e-6', '--out', 'a.jsonl', '--json', './a.jsonl'), /--json and --out name the same file/);
  assert.deepEqual(readdirSync(d), []);
});

test('a stale campaign lock is named and cleared; a live one is named with its path', async () => {
  const d = fresh();
  const out = join(d, 'run.jsonl');
  const lock = `${out}.lock`;
  // a pid that is not running
  writeFileSync(lock, '999999999');
  let r = spawnSync(process.execPath, [cli, 'inject', LENET, '--ber', '1e-6', '--trials', '1', '--limit', '20', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stderr.includes(`note: removed the stale lock file "${lock}" (process 999999999 is not running).`), r.stderr);
  assert.ok(!existsSync(lock));
  // a live process that is not flipguard (the pid was reused)
  const sleeper = spawn('sleep', ['30']);
  try {
    writeFileSync(lock, String(sleeper.pid));
    r = spawnSync(process.execPath, [cli, 'inject', LENET, '--ber', '1e-6', '--trials', '2', '--limit', '20', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`removed the stale lock file ".*run\\.jsonl\\.lock" \\(process ${sleeper.pid} is "sleep 30", not flipguard\\)`));
  } finally {
    sleeper.kill();
  }
  // a live node process holds it: refused, naming the lock file and how to clear it
  writeFileSync(lock, String(process.pid));
  const before = readFileSync(out);
  r = spawnSync(process.execPath, [cli, 'inject', LENET, '--ber', '1e-6', '--trials', '3', '--limit', '20', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.ok(r.stderr.includes(`holds the lock file "${lock}"; wait for it, give each process its own output (use shards), or delete "${lock}" if that process is not a flipguard campaign.`), r.stderr);
  assert.deepEqual(readFileSync(out), before);
  rmSync(lock);
});
