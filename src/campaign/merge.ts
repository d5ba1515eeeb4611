/**
 * Joining shard outputs (or any set of output files of the same campaign) into the result of one run.
 */
import { existsSync } from 'node:fs';
import { FlipguardError } from '../errors.js';
import {
  CAMPAIGN_FORMAT, FLIPGUARD_VERSION, RECORD_KEYS, canonicalOrder, cellKey, configDifferences, readCampaignFile, RecordWriter,
  type CampaignConfig, type CampaignHeader, type GoldenResult, type TrialRecord,
} from './records.js';
import { applyMargin, DEFAULT_MIN_TRIALS, summarize, type CampaignSummary } from './summary.js';

export interface MergeOptions {
  /** Write the merged campaign here (header + records in canonical order); must not exist yet. */
  out?: string;
  /** Early-stop margin to apply (default: the first file's). */
  margin?: number | null;
  minTrials?: number;
}

export interface MergeResult extends CampaignSummary {
  config: CampaignConfig;
  /** Records in canonical order (BER ascending, then trial), after the margin rule. */
  records: TrialRecord[];
}

/**
 * Merges campaign output files of the same configuration. The result — records in canonical order
 * and summary — equals that of one unsharded run over the same cells. Refuses files with another
 * configuration or fault-free result, and cells recorded twice with different results.
 */
export function mergeRuns(files: readonly string[], opts: MergeOptions = {}): MergeResult {
  if (files.length === 0) throw new FlipguardError('No campaign files were given to merge; pass at least one output file.');
  let first: { path: string; header: CampaignHeader } | undefined;
  const cells = new Map<string, TrialRecord>();
  for (const path of files) {
    const f = readCampaignFile(path);
    if (!f.header) throw new FlipguardError(`"${path}" holds no campaign header (it is empty or was cut short before the golden run finished); rerun that shard or leave the file out.`);
    if (!first) first = { path, header: f.header };
    else {
      const diff = configDifferences(first.header.config, f.header.config);
      if (diff.length) throw new FlipguardError(`"${path}" and "${first.path}" are campaigns with different configurations (${diff.join(', ')} differ); merge only shards of one campaign.`);
      const a = first.header.golden;
      const b = f.header.golden;
      if (a.correct !== b.correct || a.count !== b.count || a.due !== b.due) {
        throw new FlipguardError(`"${path}" and "${first.path}" disagree on the fault-free result (${b.correct}/${b.count} vs ${a.correct}/${a.count}); rerun the shards on the same runtime.`);
      }
    }
    for (const r of f.records) {
      const k = cellKey(r.ber, r.trial);
      const prev = cells.get(k);
      if (prev) {
        const same = RECORD_KEYS.every((key) => key === 'millis' || prev[key] === r[key]);
        if (!same) throw new FlipguardError(`BER ${r.ber} trial ${r.trial} is recorded with different results in two files (one of them is "${path}"); the files do not come from one campaign.`);
        continue;
      }
      cells.set(k, r);
    }
  }
  const header = first!.header;
  const margin = opts.margin !== undefined ? opts.margin : header.run?.margin ?? null;
  const minTrials = opts.minTrials ?? header.run?.minTrials ?? DEFAULT_MIN_TRIALS;
  const golden: GoldenResult = header.golden;
  const records = canonicalOrder(applyMargin([...cells.values()], { margin, minTrials }).records);
  const summary = summarize(records, { golden, margin, minTrials });
  if (opts.out) {
    if (existsSync(opts.out)) throw new FlipguardError(`The merge output "${opts.out}" already exists; give a new file name (flipguard never overwrites results).`);
    const bers = [...new Set(records.map((r) => r.ber))];
    const trials = records.reduce((m, r) => Math.max(m, r.trial + 1), 0);
    const w = RecordWriter.open(opts.out, {
      header: { flipguard: 'campaign', format: CAMPAIGN_FORMAT, version: FLIPGUARD_VERSION, config: header.config, golden, run: { bers, trials, margin, minTrials, shard: null } },
    });
    try { for (const r of records) w.write(r); } finally { w.close(); }
  }
  return { ...summary, config: header.config, records };
}
