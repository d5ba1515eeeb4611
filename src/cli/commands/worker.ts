import { runWorker, queueStatus, redactUrl, DEFAULT_QUEUE_NAME, type QueueRunOptions } from '../../campaign/queue.js';
import { FlipguardError } from '../../errors.js';
import { groundTruthJobs } from '../../analysis/groundtruth.js';
import { DEFAULT_BATCH, DEFAULT_LOCK_SECONDS } from '../../defaults.js';
import type { OptionSpec } from '../args.js';
import { dataOptions, datasetFromOptions, type Command } from '../command.js';
import { bold, plural, writeJson } from '../output.js';
import { formatTable } from '../table.js';

/** The flags every queue-using command takes (inject, harden --sweep, rank --compare). */
export const queueOptions: Record<string, OptionSpec> = {
  queue: { kind: 'string', arg: 'redis://HOST:PORT[/DB]', help: 'run the trials on a Redis job queue served by "flipguard worker" processes (rediss:// for TLS, redis://:PASSWORD@HOST for a password)' },
  'queue-name': { kind: 'string', arg: 'NAME', help: 'queue name (coordinator and workers must agree)', default: DEFAULT_QUEUE_NAME },
};

/** The library's queue options from --queue/--queue-name (undefined without --queue). */
export function queueFromOptions(v: Record<string, unknown>, label: string): QueueRunOptions | undefined {
  if (v.queue === undefined) return undefined;
  return {
    url: v.queue as string, name: v['queue-name'] as string, label,
    onIdle: (m) => { if (!v.quiet) process.stderr.write(`flipguard: waiting — ${m}\n`); },
  };
}

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run campaign trials and rank --compare units from a Redis job queue (any number of workers, on any machine with the model and data)',
  usage: '--queue redis://HOST:PORT[/DB] --model MODEL.onnx|DIR [--data … as for the coordinator] [--threads 1]',
  positionals: [0, 0],
  options: {
    ...queueOptions,
    ...dataOptions,
    model: { kind: 'strings', arg: 'FILE|DIR,…', help: 'model files (or folders of .onnx files) this worker may run; jobs for other models are refused' },
    threads: { kind: 'int', arg: 'T', help: 'onnxruntime intra-op threads (1 per worker when several share a machine)' },
    batch: { kind: 'int', arg: 'B', help: 'images per onnxruntime run', default: DEFAULT_BATCH },
    swap: { kind: 'string', arg: 'rebuild|feed', help: 'how faulty parameters reach onnxruntime', choices: ['rebuild', 'feed'], default: 'rebuild' },
    'no-shortcuts': { kind: 'bool', help: 'evaluate every trial in full (results are identical; for checking)' },
    'lock-seconds': { kind: 'number', arg: 'S', help: 'a job whose worker died goes back to the queue after S seconds', default: DEFAULT_LOCK_SECONDS },
    'exit-when-idle': { kind: 'number', arg: 'S', help: 'stop once the queue has been empty for S seconds (default: run until Ctrl-C / SIGTERM)' },
  },
  async run({ values: v }) {
    if (!v.queue) throw new FlipguardError('flipguard worker needs --queue redis://HOST:PORT[/DB], the same address the coordinator (flipguard inject --queue) uses.');
    if (!v.model) throw new FlipguardError('flipguard worker needs --model FILE|DIR: the model the coordinator runs (workers read models only from what they are given).');
    if (v.limit !== undefined) throw new FlipguardError('flipguard worker takes no --limit: the image limit comes with each job from the coordinator.');
    const controller = new AbortController();
    const stop = () => { if (!v.quiet) process.stderr.write('flipguard worker: stopping after the current trial\n'); controller.abort(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const url = v.queue as string;
    let announced = false;
    const r = await runWorker({
      url, name: v['queue-name'] as string, models: v.model as string[], data: (m) => datasetFromOptions(v, m),
      threads: v.threads as number | undefined, batch: v.batch as number, swap: v.swap as 'rebuild' | 'feed', shortcuts: !v['no-shortcuts'],
      kinds: { groundtruth: groundTruthJobs }, lockSeconds: v['lock-seconds'] as number, idleExitSeconds: v['exit-when-idle'] as number | undefined, signal: controller.signal,
      onJob: (e) => {
        if (!announced && !v.quiet) { announced = true; process.stderr.write(`flipguard worker ${process.pid}: running campaign ${e.campaign}\n`); }
        if (v.verbose) process.stderr.write(e.phase === 'start' ? `start ${e.label}\n` : `done ${e.label}: ${e.detail}\n`);
      },
      onRefuse: (m) => process.stderr.write(`flipguard worker: refused a job: ${m}\n`),
    });
    const ran = [plural(r.trials, 'trial'), ...Object.entries(r.jobs).filter(([k]) => k !== 'trial').map(([k, n]) => plural(n, `${k} job`))].join(', ');
    process.stdout.write(`${ran} run${r.refused ? `, ${plural(r.refused, 'job')} refused` : ''} from queue "${v['queue-name']}" at ${redactUrl(url)}\n`);
  },
};

export const queueCommand: Command = {
  name: 'queue',
  summary: 'show per-campaign progress of a Redis job queue',
  usage: 'status redis://HOST:PORT[/DB] [--queue-name NAME] [--json FILE]',
  positionals: [2, 2],
  options: {
    'queue-name': queueOptions['queue-name'],
    json: { kind: 'string', arg: 'FILE', help: 'write the status as JSON' },
  },
  async run({ positionals, values: v }) {
    const [action, url] = positionals;
    if (action !== 'status') throw new FlipguardError(`Unknown queue action "${action}"; use: flipguard queue status redis://HOST:PORT.`);
    const s = await queueStatus({ url, name: v['queue-name'] as string });
    process.stdout.write(`${bold(`queue "${v['queue-name']}"`)} at ${redactUrl(url)}: ${s.workers} worker${s.workers === 1 ? '' : 's'} connected, ${s.campaigns.length} campaign${s.campaigns.length === 1 ? '' : 's'}\n\n`);
    if (s.campaigns.length) {
      process.stdout.write(formatTable(
        ['campaign', 'label', 'data', 'recorded', 'of', 'done', 'running', 'waiting', 'failed', 'started'],
        s.campaigns.map((c) => [c.campaign, JSON.stringify(c.label).slice(1, -1), c.data, c.recorded, c.total, `${c.total ? ((100 * c.recorded) / c.total).toFixed(1) : '0.0'}%`, c.active, c.waiting, c.failed, c.started]),
      ) + '\n');
    }
    if (v.json) writeJson(v.json as string, s);
  },
};
