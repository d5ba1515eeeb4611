/**
 * `--shard auto`: this process's shard from the array-job environment of a batch scheduler, so one
 * job script serves every task of the array. Supported:
 *
 * - Slurm job arrays: index = (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) / step, count =
 *   SLURM_ARRAY_TASK_COUNT (or (MAX − MIN) / step + 1). Any contiguous range works (`--array=0-9`,
 *   `--array=1-10`, `--array=0-18:2`); a list with gaps (`--array=1,3,7`) is refused.
 * - Kubernetes Indexed Jobs: index = JOB_COMPLETION_INDEX (0-based); the count is not in the
 *   environment, so `shards` must equal the Job's `completions`.
 * - PBS Pro (PBS_ARRAY_INDEX) and Torque (PBS_ARRAYID): the index as given, so submit the range
 *   0…N−1 (`-J 0-9` / `-t 0-9`); the count comes from `shards`.
 * - LSF: LSB_JOBINDEX counts from the range's start in steps of LSB_JOBINDEX_STEP (default 1) up to
 *   LSB_JOBINDEX_END. LSF does not export the start: it is taken as 1 (`-J "name[1-N]"`), or, when
 *   `shards` is given, as END − (shards − 1) · STEP (so `[5-8]` works with `--shards 4`).
 */
import { FlipguardError, opt } from '../errors.js';
import type { Shard } from './run.js';

export interface DetectedShard extends Shard {
  /** Which scheduler's variables gave the shard, e.g. "Slurm array (SLURM_ARRAY_TASK_ID=3)". */
  source: string;
}

type Env = Record<string, string | undefined>;

function whole(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\s*\d+\s*$/.test(raw)) throw new FlipguardError(`The environment variable ${name} is "${raw}", not a whole number ≥ 0; the scheduler set it wrongly or it was overwritten — unset it or fix the job script.`);
  return Number(raw);
}

function withCount(scheduler: string, index: number, derived: number | undefined, shards: number | undefined, countHint: string): DetectedShard {
  if (derived !== undefined && shards !== undefined && derived !== shards) {
    throw new FlipguardError(`The ${scheduler} says the array has ${derived} tasks but the shard count (${opt('shards')}) is ${shards}; drop ${opt('shards')} or make them agree.`);
  }
  const count = derived ?? shards;
  if (count === undefined) throw new FlipguardError(`The ${scheduler} does not tell the number of tasks; give it as the shard count (${opt('shards')} N, the array size).`);
  if (index >= count) throw new FlipguardError(`The ${scheduler} gives task index ${index} but only ${count} shards (0 to ${count - 1}); submit the array as 0-${count - 1}${scheduler.startsWith('LSF') ? ` (LSF: [1-${count}])` : ''} or fix ${opt('shards')}.`);
  return { index, count, source: `${scheduler} (${countHint})` };
}

/**
 * The shard of this process from scheduler variables in `env` (default `process.env`). `shards`
 * is the shard count where the scheduler does not expose it (Kubernetes, PBS) and a cross-check
 * where it does. Throws one FlipguardError sentence when no array job is found, more than one
 * scheduler's variables are set, or the values are inconsistent.
 */
export function shardFromEnvironment(env: Env = process.env, opts: { shards?: number } = {}): DetectedShard {
  const found: string[] = [];
  if (env.SLURM_ARRAY_TASK_ID) found.push('Slurm');
  if (env.JOB_COMPLETION_INDEX) found.push('Kubernetes');
  if (env.PBS_ARRAY_INDEX || env.PBS_ARRAYID) found.push('PBS');
  if (env.LSB_JOBINDEX && env.LSB_JOBINDEX !== '0') found.push('LSF');
  if (found.length > 1) throw new FlipguardError(`Array-job variables of ${found.join(' and ')} are both set, so the shard is ambiguous; give ${opt('shard')} i/n explicitly.`);
  const shards = opts.shards;
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1)) throw new FlipguardError(`The shard count must be a whole number ≥ 1, got ${shards}.`);
  switch (found[0]) {
    case 'Slurm': {
      const id = whole(env, 'SLURM_ARRAY_TASK_ID')!;
      const min = whole(env, 'SLURM_ARRAY_TASK_MIN') ?? 0;
      const max = whole(env, 'SLURM_ARRAY_TASK_MAX');
      const step = whole(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
      const given = whole(env, 'SLURM_ARRAY_TASK_COUNT');
      if (step < 1) throw new FlipguardError(`SLURM_ARRAY_TASK_STEP is ${step}; submit the array with a step ≥ 1.`);
      const span = max !== undefined ? (max - min) / step + 1 : undefined;
      if (given !== undefined && span !== undefined && given !== span) {
        throw new FlipguardError(`The Slurm array has ${given} tasks between ${min} and ${max}, so it is not one contiguous range; submit it as --array=0-${given - 1}.`);
      }
      if (id < min || (id - min) % step !== 0) throw new FlipguardError(`SLURM_ARRAY_TASK_ID ${id} is not in the array starting at SLURM_ARRAY_TASK_MIN ${min} with step ${step}; submit the array as --array=0-(N-1).`);
      return withCount('Slurm array', (id - min) / step, given ?? span, shards, `SLURM_ARRAY_TASK_ID=${id}`);
    }
    case 'Kubernetes':
      return withCount('Kubernetes Indexed Job', whole(env, 'JOB_COMPLETION_INDEX')!, undefined, shards, `JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX}`);
    case 'PBS': {
      const name = env.PBS_ARRAY_INDEX ? 'PBS_ARRAY_INDEX' : 'PBS_ARRAYID';
      return withCount('PBS array', whole(env, name)!, undefined, shards, `${name}=${env[name]}`);
    }
    case 'LSF': {
      // LSF exports the index, the range's end and its step, not its start: the start is 1 unless
      // --shards says otherwise (then start = end − (shards − 1) · step, e.g. [5-8] with --shards 4)
      const idx = whole(env, 'LSB_JOBINDEX')!;
      const end = whole(env, 'LSB_JOBINDEX_END');
      const step = whole(env, 'LSB_JOBINDEX_STEP') ?? 1;
      if (step < 1) throw new FlipguardError(`LSB_JOBINDEX_STEP is ${step}; submit the array with a step ≥ 1, e.g. -J "name[1-N]".`);
      if (end === undefined) return withCount('LSF array', idx - 1, undefined, shards, `LSB_JOBINDEX=${idx}`);
      const start = shards === undefined ? 1 : end - (shards - 1) * step;
      const range = `[${start}-${end}${step > 1 ? `:${step}` : ''}]`;
      if (start < 1 || (end - start) % step !== 0) {
        throw new FlipguardError(shards === undefined
          ? `The LSF array ends at ${end} with step ${step}, which is not reached from index 1; give the number of tasks as ${opt('shards')} N, or submit it as -J "name[1-N]".`
          : `The LSF array ends at ${end} with step ${step}, so it cannot hold ${shards} tasks (${opt('shards')}); give the array's task count as ${opt('shards')}, or submit it as -J "name[1-N]".`);
      }
      if (idx < start || idx > end || (idx - start) % step !== 0) {
        throw new FlipguardError(`LSB_JOBINDEX ${idx} is not in the LSF array ${range}${shards === undefined ? ` (assumed to start at 1; give ${opt('shards')} N for another start)` : ` that ${shards} tasks (${opt('shards')}) ending at ${end} form`}; submit it as -J "name[1-N]" or fix ${opt('shards')}.`);
      }
      return withCount('LSF array', (idx - start) / step, (end - start) / step + 1, undefined, `LSB_JOBINDEX=${idx} of ${range}`);
    }
    default: {
      const hint = env.SLURM_JOB_ID ? ' (this is a Slurm job but not an array job: submit it with sbatch --array=0-(N-1))' : env.PBS_JOBID ? ' (this is a PBS job but not an array job: submit it with qsub -J 0-(N-1))' : '';
      throw new FlipguardError(`${opt('shard')} auto found no array-job index in the environment${hint}; run it as a Slurm, PBS/Torque or LSF array task or a Kubernetes Indexed Job, or give ${opt('shard')} i/n.`);
    }
  }
}
