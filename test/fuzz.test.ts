/**
 * Seeded mutation fuzzer over the shipped models: byte flips, truncations, insertions, deletions,
 * varint and length corruption aimed at the protobuf structure, and blown-up tensor shapes. Every
 * mutant either loads (then `info`'s shape inference and counting run on it) or is refused with a
 * FlipguardError of one sentence — never another exception, a hang or a runaway allocation.
 *
 * The mutants run in a worker thread (fuzz-worker.ts); the test thread is a watchdog that stops the worker when one
 * mutant takes longer than PER_MUTANT_MS, naming the mutant (seed, index, mutation) to replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Outcome } from './fuzz-worker.js';
import { runCli, runPool } from './security-helpers.js';
import { visible } from '../src/util/text.js';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'fuzz-worker.js');

const SEED = 20261202;
const MUTANTS = 320;
/** A mutant slower than this (ms) counts as a hang; loading the largest shipped model takes ~0.5 s. */
const PER_MUTANT_MS = 10_000;
/**
 * The whole campaign's budget, in seconds of CPU time of this process (the worker's included).
 * CPU rather than wall time: on a shared, overloaded machine wall time stretches several-fold
 * while the work done does not (idle 2-core machine: ~12 s wall).
 */
const TOTAL_CPU_SECONDS = 30;

test(`fuzz: ${MUTANTS} seeded mutants of the shipped models load or are refused in one sentence, none hangs`, async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'fg-fuzz-'));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const outcomes: Outcome[] = [];
  let current: { started: number; model: string; mutation: string } | undefined;
  await new Promise<void>((done, fail) => {
    const worker = new Worker(workerFile, { workerData: { seed: SEED, count: MUTANTS, folder } });
    let watchdog: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        void worker.terminate();
        fail(new Error(`mutant ${current?.started} of ${current?.model} (${current?.mutation}, seed ${SEED}) ran longer than ${PER_MUTANT_MS} ms`));
      }, PER_MUTANT_MS);
    };
    arm();
    worker.on('message', (m: Outcome & { started?: number; done?: boolean }) => {
      arm();
      if (m.done) { clearTimeout(watchdog); void worker.terminate().then(() => done()); return; }
      if (m.started !== undefined) current = m as unknown as typeof current;
      else outcomes.push(m);
    });
    worker.on('error', (e) => { clearTimeout(watchdog); fail(e); });
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const tally = (r: Outcome['result']) => outcomes.filter((o) => o.result === r).length;
  const slowest = outcomes.reduce((a, o) => (o.ms > a.ms ? o : a), outcomes[0]);
  t.diagnostic(`${MUTANTS} mutants in ${seconds.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU: ${tally('loaded')} loaded, ${tally('refused')} refused, ${tally('crashed')} crashed; slowest #${slowest?.index} ${slowest?.ms.toFixed(0)} ms`);

  assert.equal(outcomes.length, MUTANTS);
  const crashed = outcomes.filter((o) => o.result === 'crashed');
  assert.deepEqual(crashed.map((o) => `#${o.index} ${o.model} ${o.mutation}: ${o.message}`), [], 'non-FlipguardError exceptions');
  for (const o of outcomes.filter((x) => x.result === 'refused')) {
    // names quoted from the mutated file may hold newlines; as printed (escaped) it is one line, and never a stack trace
    assert.ok(!visible(o.message!).includes('\n'), `#${o.index} ${o.mutation}: message is not one line: ${o.message}`);
    assert.doesNotMatch(o.message!, /\n\s+at /, `#${o.index} ${o.mutation}: stack trace in ${o.message}`);
    assert.match(o.message!, /[.)]$/, `#${o.index} ${o.mutation}: ${o.message}`);
  }
  const refused = outcomes.filter((o) => o.result === 'refused').length;
  // the mutations reach the parser: most mutants are refused, some still load
  assert.ok(refused > MUTANTS / 3, `only ${refused} of ${MUTANTS} refused`);
  assert.ok(refused < MUTANTS, 'every mutant was refused: the fuzzer never produced a loadable model');
  assert.ok(cpuSeconds < TOTAL_CPU_SECONDS, `${MUTANTS} mutants took ${cpuSeconds.toFixed(1)} s of CPU (${seconds.toFixed(1)} s wall)`);

  // a handful of refused mutants through the CLI: exit code 2, one line on stderr, no stack trace
  const kept = outcomes.filter((o) => o.bytes);
  assert.ok(kept.length >= 3);
  const runs = await runPool(kept.map((o) => () => {
    const path = join(folder, `mutant-${o.index}.onnx`);
    writeFileSync(path, o.bytes!);
    return runCli(['info', path]);
  }));
  runs.forEach((r, i) => {
    const o = kept[i];
    assert.equal(r.code, 2, `#${o.index} ${o.mutation}: ${r.err}`);
    assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
    assert.match(r.err, /^flipguard: /);
    assert.doesNotMatch(r.err, /internal error|\n\s+at /);
  });
});
