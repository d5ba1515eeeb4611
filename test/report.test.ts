/**
 * Report module without a browser: loaders and kind detection, summaries (CIs against hand-computed
 * values), CSV content, errors for corrupt files, chart compilation, writing a report folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vega from 'vega';
import { FlipguardError } from '../src/errors.js';
import {
  buildCharts, buildReportData, csvField, DARK_BACKGROUND, heatStripSpec, LIGHT_BACKGROUND, loadInputFile, loadInputs, MAX_HEAT_CELLS, nameFromPath, PALETTE,
  parseInputText, reportCsv, summarizeScores, toCsv, toleratedBer, writeReport,
  type CampaignRow, type CampaignTrialLine,
} from '../src/report/index.js';
import { fmtBer, fmtBytes, fmtInterval, fmtPct, fmtPp, fmtRatio, fmtSeconds, fmtSi } from '../src/report/format.js';
import { readSummaryFile, summarize, summaryJson } from '../src/campaign/summary.js';
import { readScores, readScoresFile, scoresFile } from '../src/analysis/scores.js';
import { readComparisonFile } from '../src/analysis/groundtruth.js';
import { FieldError } from '../src/util/validate.js';
import { spawnSync } from 'node:child_process';
import { readHardenReportFile, type Overheads } from '../src/harden/overhead.js';
import { readPruneReportFile, type PruneReport, type PruneReportFile } from '../src/prune/index.js';
import { sweepJson, type HardenSweepFile, type SweepRow } from '../src/workflows/sweep.js';
import { readProvenanceFile } from '../src/report/provenance.js';
import type { BitProfile } from '../src/analysis/bit-profile.js';
import { SAMPLE_VARIANTS, sampleRecordsText, sampleReportInputs, sampleTrials, writeSampleInputs } from './fixtures/report-sample.js';

const dir = mkdtempSync(join(tmpdir(), 'flipguard-report-unit-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}

function trial(ber: number, t: number, drop: number, extra: Partial<CampaignTrialLine> = {}): CampaignTrialLine {
  return { ber, trial: t, seed: 1000 + t, faults: 3, accuracy: 0.99 - drop / 100, accuracyDrop: drop, sdcRate: drop / 100, dueRate: 0, millis: 250, ...extra };
}

const header = (extra: Record<string, unknown> = {}): string => JSON.stringify({ kind: 'flipguard-campaign', seed: 7, data: 'mnist', golden: { accuracy: 0.99 }, ...extra });

function jsonl(lines: unknown[]): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

/** Asserts a FlipguardError whose message matches every pattern. */
function throwsFg(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected a FlipguardError, got ${e}`);
    for (const p of patterns) assert.match(e.message, p);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

const close = (a: number | null, b: number, tol = 1e-4): void => {
  assert.ok(a !== null && Math.abs(a - b) <= tol, `${a} ≉ ${b}`);
};

test('kind detection: every file flipguard writes is recognised', () => {
  const paths = writeSampleInputs(join(dir, 'sample'), 5);
  const loaded = loadInputs(paths);
  assert.deepEqual(loaded.map((l) => l.kind), ['campaign-summary', 'campaign-summary', 'campaign-summary', 'scores', 'harden', 'harden', 'harden', 'compare', 'bit-profile', 'prune', 'provenance']);
  const rec = file('recs/lenet5-baseline.jsonl', sampleRecordsText('lenet5-baseline', 3));
  assert.equal(loadInputs([rec])[0].kind, 'campaign-records');
  // the runner's own header spelling
  const runner = file('runner.jsonl', jsonl([{ flipguard: 'campaign', format: 1, version: '0.1.0', config: { seed: 3 }, golden: { accuracy: 0.98, correct: 98, count: 100, due: 0 }, run: { bers: [1e-5], trials: 2, margin: null, minTrials: 10, shard: null } }, trial(1e-5, 0, 1), trial(1e-5, 1, 3)]));
  const d = buildReportData({ inputs: [runner] });
  assert.equal(d.campaigns[0].goldenAccuracy, 0.98);
  assert.equal(d.campaigns[0].seed, 3);
  assert.equal(d.campaigns[0].variant, 'runner');
  // a parsed record file ({header, records}) works like the file
  const mem = buildReportData({ inputs: [{ header: JSON.parse(header({ variant: 'mem' })), records: [trial(1e-6, 0, 1), trial(1e-6, 1, 3)] }] });
  assert.equal(mem.inputs[0].kind, 'campaign-records');
  assert.equal(mem.campaigns[0].variant, 'mem');
  assert.equal(mem.campaigns[0].rows[0].meanDrop, 2);
});

test('variant names come from the variant field, else the file name (generic names give way to the folder)', () => {
  assert.equal(nameFromPath('runs/vgg11-tmr.summary.json'), 'vgg11-tmr');
  assert.equal(nameFromPath('runs/vgg11-tmr.jsonl'), 'vgg11-tmr');
  assert.equal(nameFromPath('runs/vgg11-tmr/summary.json'), 'vgg11-tmr');
  assert.equal(nameFromPath('runs/vgg11-tmr/campaign.jsonl'), 'vgg11-tmr');
  assert.equal(nameFromPath('x/lenet-ranger.harden.json'), 'lenet-ranger');
  const inputs = sampleReportInputs(3);
  const d = buildReportData({ inputs });
  assert.deepEqual(d.campaigns.map((c) => c.variant), ['lenet5-baseline', 'lenet5-tmr10', 'lenet5-tmr30']);
  const named = { ...(inputs[1].data as object), variant: 'from-field' };
  assert.equal(buildReportData({ inputs: [{ name: 'from-name', data: named }] }).campaigns[0].variant, 'from-field');
  assert.equal(buildReportData({ inputs: [inputs[2]] }).campaigns[0].variant, 'lenet5-tmr30');
});

test('record files are summarised with mean, sample std and a Student-t 95 % interval (hand-computed)', () => {
  const p = file('hand.jsonl', jsonl([
    header({ variant: 'hand' }),
    ...[1, 2, 3, 4, 5].map((d, i) => trial(1e-6, i, d, { millis: 200 })),
    trial(1e-5, 0, 10, { sdcRate: 0.1 }), trial(1e-5, 1, 12, { sdcRate: 0.3 }),
    trial(1e-4, 0, 50),
  ]));
  const d = buildReportData({ inputs: [p] });
  const [a, b, c] = d.campaigns[0].rows;
  assert.equal(d.campaigns[0].from, 'records');
  assert.equal(d.campaigns[0].seed, 7);
  // drops 1..5: mean 3, s = √2.5, t(0.975, 4) = 2.776445 → half-width 2.776445·√2.5/√5 = 1.963243
  assert.equal(a.ber, 1e-6);
  assert.equal(a.trials, 5);
  close(a.meanDrop, 3, 1e-12);
  close(a.stdDrop, Math.sqrt(2.5), 1e-12);
  close(a.ciLow, 3 - 1.963243);
  close(a.ciHigh, 3 + 1.963243);
  close(a.trialsPerSecond, 5, 1e-9); // 5 trials in 5 × 200 ms
  // drops 10, 12: mean 11, s = √2, t(0.975, 1) = 12.706205 → half-width 12.706205
  close(b.meanDrop, 11, 1e-12);
  close(b.ciLow, 11 - 12.706205);
  close(b.ciHigh, 11 + 12.706205);
  close(b.meanSdc, 0.2, 1e-12);
  close(b.sdcLow, 0.2 - 12.706205 * 0.1);
  // one trial: no interval, and a note says so
  assert.equal(c.trials, 1);
  assert.equal(c.ciLow, null);
  assert.equal(c.ciHigh, null);
  assert.ok(d.warnings.some((w) => /fewer than 2 trials at BER 1e-4:/.test(w)), d.warnings.join('|'));
});

test('the early-stop margin recorded in a header decides which trials count', () => {
  // drops alternate 1, 1.2: the half-width falls below 0.2 pp after a few trials
  const lines = Array.from({ length: 40 }, (_, i) => trial(1e-6, i, i % 2 ? 1.2 : 1));
  const withMargin = buildReportData({ inputs: [file('m1.jsonl', jsonl([header({ run: { margin: 0.2, minTrials: 4 } }), ...lines]))] });
  const without = buildReportData({ inputs: [file('m2.jsonl', jsonl([header(), ...lines]))] });
  assert.equal(without.campaigns[0].rows[0].trials, 40);
  assert.ok(withMargin.campaigns[0].rows[0].trials < 40 && withMargin.campaigns[0].rows[0].trials >= 4);
});

test('campaign summaries are taken as written (null interval ends allowed)', () => {
  const d = buildReportData({
    inputs: [{ name: 'v', data: { golden: { accuracy: 0.9 }, bers: [
      { ber: 1e-4, trials: 1, meanDrop: 5, stdDrop: 0, ci95: [null, null], meanSdc: 0.05, meanDue: 0, trialsPerSecond: null },
      { ber: 1e-5, trials: 10, meanDrop: 1, stdDrop: 0.5, ci95: [0.6, 1.4], meanSdc: 0.01, meanDue: 0.001, trialsPerSecond: 3 },
    ] } }],
  });
  const rows = d.campaigns[0].rows;
  assert.deepEqual(rows.map((r) => r.ber), [1e-5, 1e-4]); // sorted
  assert.equal(rows[0].ciLow, 0.6);
  assert.equal(rows[1].ciHigh, null);
  assert.equal(rows[1].trialsPerSecond, null);
});

test('corrupt, unknown and incomplete files stop with one sentence naming the file', () => {
  throwsFg(() => loadInputs([join(dir, 'nope.json')]), /"[^"]*nope\.json" does not exist/);
  throwsFg(() => loadInputs([file('empty.json', '')]), /empty\.json" is empty/);
  throwsFg(() => loadInputs([file('cut.json', '{"golden": {"accuracy": 0.9}, "bers": [{"ber": 1e-6, ')]), /cut\.json" is not valid JSON/);
  throwsFg(() => loadInputs([file('other.json', '{"hello": "world"}')]), /other\.json" is not a file flipguard writes/);
  throwsFg(() => loadInputs([file('list.json', '[1, 2]')]), /list\.json" is not a file flipguard writes \(it holds a JSON list\)/);
  throwsFg(() => loadInputs([file('text.jsonl', 'hello\nworld\n')]), /text\.jsonl" is not valid JSON/);
  throwsFg(() => loadInputs([file('bad-ci.json', JSON.stringify({ golden: { accuracy: 0.9 }, bers: [{ ber: 1e-6, trials: 3, meanDrop: 1, stdDrop: 1, ci95: [1], meanSdc: 0, meanDue: 0, trialsPerSecond: 1 }] }))]),
    /bad-ci\.json" looks like a campaign summary but its bers\[0\]\.ci95 is missing or not a pair/);
  throwsFg(() => loadInputs([file('bad-acc.json', JSON.stringify({ golden: { accuracy: 99.1 }, bers: [] }))]), /golden\.accuracy is 99\.1, outside \[0, 1\]/);
  throwsFg(() => loadInputs([file('bad-unit.json', JSON.stringify({ method: 'lrp', layers: [{ name: 'c', op: 'Conv', unit: 'pixel', scores: [1] }] }))]), /rank scores file but its layers\[0\]\.unit is "pixel"/);
  throwsFg(() => loadInputs([file('nan-score.json', JSON.stringify({ method: 'lrp', layers: [{ name: 'c', op: 'Conv', unit: 'channel', scores: [1, null] }] }))]), /layers\[0\]\.scores\[1\] is not a finite number/);
  throwsFg(() => loadInputs([file('bad-harden.json', JSON.stringify({ method: 'tmr', ratio: 0.1, overheads: {} }))]), /harden report but its overheads holds none of/);
  throwsFg(() => loadInputs([file('bad-prune.json', JSON.stringify({ explored: [{ pConv: 0.5, pFc: 0, accuracy: 0.9, parameters: 1, macs: 1, timeMs: 1 }], chosen: null }))]), /explored\[0\]\.accepted is missing/);
  throwsFg(() => loadInputs([file('bad-compare.json', JSON.stringify({ layer: 'c', ber: 1e-5, rows: [{ method: 'a', spearman: 1.5, kendall: 0, topkOverlap: 0 }] }))]), /rows\[0\]\.spearman is 1\.5/);
  // record files
  throwsFg(() => loadInputs([file('noheader.jsonl', jsonl([trial(1e-6, 0, 1), trial(1e-6, 1, 1)]))]), /noheader\.jsonl" holds JSON lines without a campaign header/);
  throwsFg(() => loadInputs([file('headeronly.jsonl', jsonl([header()]))]), /headeronly\.jsonl" is a campaign record file with no finished trials/);
  throwsFg(() => loadInputs([file('damaged.jsonl', jsonl([header(), trial(1e-6, 0, 1), '{"ber": 1e-6, "tri', trial(1e-6, 2, 1)]))]), /Line 3 of "[^"]*damaged\.jsonl" is damaged/);
  throwsFg(() => loadInputs([file('field.jsonl', jsonl([header(), trial(1e-6, 0, 1), { ...trial(1e-6, 1, 1), sdcRate: 'x' }]))]), /Line 3 of "[^"]*field\.jsonl" is damaged \(its sdcRate is missing/);
  throwsFg(() => loadInputs([file('twice.jsonl', jsonl([header(), trial(1e-6, 0, 1), trial(1e-6, 0, 2)]))]), /Line 3 .*\(repeats trial 0 at BER 0\.000001 with a different result/);
  // an identical repeated line is harmless; a torn last line is ignored with a note
  const torn = buildReportData({ inputs: [file('torn.jsonl', `${jsonl([header(), trial(1e-6, 0, 1), trial(1e-6, 0, 1), trial(1e-6, 1, 3)])}{"ber":1e-6,"trial":2,"se`)] });
  assert.equal(torn.campaigns[0].rows[0].trials, 2);
  assert.ok(torn.warnings.some((w) => /unfinished last line 5 was ignored/.test(w)));
  // a report is not an input
  const out = writeReport({ inputs: sampleReportInputs(3).slice(0, 1), outDir: join(dir, 'r0') });
  throwsFg(() => loadInputs([out.json]), /is a report written by flipguard report, not one of its inputs/);
  throwsFg(() => loadInputs([]), /No inputs were given/);
  throwsFg(() => loadInputs([{ foo: 1 }]), /Input 1 is not a document flipguard writes/);
});

test('folders contribute their JSON files; duplicate variant names are refused', () => {
  const run = join(dir, 'run-folder');
  writeSampleInputs(run, 3);
  writeFileSync(join(run, 'report.json'), JSON.stringify({ format: 'flipguard-report' })); // an earlier report: skipped
  writeFileSync(join(run, 'notes.txt'), 'not an input');
  const d = buildReportData({ inputs: [run] });
  assert.equal(d.inputs.length, 11);
  assert.equal(d.campaigns.length, 3);
  throwsFg(() => buildReportData({ inputs: [join(dir, 'empty-folder-that-exists')] }), /does not exist/);
  mkdirSync(join(dir, 'empty-folder'), { recursive: true });
  throwsFg(() => buildReportData({ inputs: [join(dir, 'empty-folder')] }), /folder .* holds no \.json or \.jsonl files/);
  const s = sampleReportInputs(3)[0];
  throwsFg(() => buildReportData({ inputs: [s, s] }), /Two campaign inputs are both named "lenet5-baseline"/, /flipguard merge/);
});

test('scores: per-layer statistics and heat-strip binning of long layers', () => {
  const layers = summarizeScores({ method: 'm', layers: [
    { name: 'a', op: 'Conv', unit: 'channel', scores: [1, 3, 2] },
    { name: 'b', op: 'Gemm', unit: 'weight', scores: Array.from({ length: 1000 }, (_, i) => (i === 777 ? 10 : 0.001)) },
  ] });
  assert.equal(layers[0].max, 3);
  assert.equal(layers[0].argmax, 1);
  close(layers[0].mean, 2, 1e-12);
  close(layers[0].share, 6 / (6 + 10 + 999 * 0.001), 1e-12);
  assert.equal(layers[1].units, 1000);
  const spec = heatStripSpec({ source: 's', method: 'm', variant: null, layers }) as { hconcat: { data: { values: { layer: string; score: number }[] } }[] };
  const cells = spec.hconcat[0].data.values;
  assert.equal(cells.length, 3 + MAX_HEAT_CELLS);
  assert.equal(Math.max(...cells.filter((c) => c.layer.startsWith('b')).map((c) => c.score)), 10); // the bin keeps its largest score
});

test('CSV files: headers with units, one campaign row per variant × BER, quoting', () => {
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('=SUM(A1)'), "'=SUM(A1)");
  assert.equal(csvField(null), '');
  assert.equal(csvField(NaN), '');
  assert.equal(csvField(1e-6), '0.000001');
  assert.equal(toCsv(['x', 'y'], [[1, 'a'], [null, true]]), 'x,y\n1,a\n,true\n');
  const d = buildReportData({ inputs: sampleReportInputs(4) });
  const csv = reportCsv(d);
  assert.deepEqual([...csv.keys()], ['campaign.csv', 'overheads.csv', 'scores.csv', 'layers.csv', 'compare.csv', 'prune.csv']);
  const campaign = csv.get('campaign.csv')!.trimEnd().split('\n');
  assert.equal(campaign[0], 'variant,source,from,model,golden_accuracy,ber,trials,mean_drop_pp,std_drop_pp,ci95_low_drop_pp,ci95_high_drop_pp,mean_sdc_rate,ci95_low_sdc_rate,ci95_high_sdc_rate,mean_due_rate,mean_accuracy,trials_per_second,seed');
  assert.equal(campaign.length, 1 + 3 * 5);
  const first = campaign[1].split(',');
  const r = d.campaigns[0].rows[0];
  assert.deepEqual(first.slice(0, 8), ['lenet5-baseline', 'lenet5-baseline', 'summary', 'lenet5', '0.9912', '1e-7', '4', String(r.meanDrop)]);
  const overheads = csv.get('overheads.csv')!.trimEnd().split('\n');
  assert.equal(overheads[0], 'variant,source,method,hardened_share,metric,unit,original,hardened,ratio');
  assert.equal(overheads.length, 1 + 3 * 4);
  assert.match(overheads[1], /^lenet5-tmr10,lenet5-tmr10,selective-tmr,0\.1,parameters,count,61706,74664,/);
  const scores = csv.get('scores.csv')!.trimEnd().split('\n');
  assert.equal(scores.length, 1 + 6 + 16 + 120 + 84 + 10);
  assert.equal(scores[0], 'source,method,layer,op,unit,index,score');
  assert.match(csv.get('compare.csv')!, /^source,layer,ber,k,method,spearman,kendall,topk_overlap_share\ncompare,conv2,0\.00001,8,eq1-vulnerability,0\.824,0\.663,0\.75\n/);
  const prune = csv.get('prune.csv')!.trimEnd().split('\n');
  assert.equal(prune[0], 'source,variant,p_conv_share,p_fc_share,accuracy,parameters,macs,time_ms,accepted,status,chosen');
  assert.equal(prune.filter((l) => l.endsWith(',true,,true')).length, 1); // exactly one chosen row
});

test('charts compile without Vega-Lite warnings and render to SVG with Vega in Node', async () => {
  const d = buildReportData({ inputs: sampleReportInputs(4) });
  const { charts, warnings } = buildCharts(d);
  assert.deepEqual(warnings, []);
  assert.deepEqual(charts.map((c) => [c.id, c.series]), [['chart-drop', 3], ['chart-sdc', 3], ['chart-due', 3], ['chart-overheads', 3], ['chart-pareto-memory', 3], ['chart-pareto-time', 3], ['chart-bits-0', 32], ['chart-scores-0', 5]]);
  for (const c of charts) {
    assert.equal(JSON.stringify(c.vega).includes('http'), false, `${c.id} holds an address`);
    const view = new vega.View(vega.parse(c.vega as vega.Spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    assert.match(svg, /^<svg/);
    if (c.section === 'campaign') assert.equal((svg.match(/class="mark-line role-mark mean_marks"/g) ?? []).length, 3, c.id);
  }
});

test('palette colours keep ≥ 3:1 contrast on the light and the dark background', () => {
  const lum = (h: string): number => {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a: string, b: string): number => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  for (const c of PALETTE) {
    assert.ok(contrast(c, LIGHT_BACKGROUND) >= 3, `${c} on light: ${contrast(c, LIGHT_BACKGROUND)}`);
    assert.ok(contrast(c, DARK_BACKGROUND) >= 3, `${c} on dark: ${contrast(c, DARK_BACKGROUND)}`);
  }
});

test('number formats carry units', () => {
  assert.equal(fmtBer(1e-6), '1e-6');
  assert.equal(fmtBer(2.5e-7), '2.5e-7');
  assert.equal(fmtPct(0.9912), '99.12\u00a0%');
  assert.equal(fmtPp(-0.001), '0.00\u00a0pp');
  assert.equal(fmtInterval(-0.0004, 1.5, 'pp'), '[0.00, 1.50]\u00a0pp');
  assert.equal(fmtRatio(1.2345), '1.23×');
  assert.equal(fmtSi(416520, 'MAC'), '417\u00a0kMAC');
  assert.equal(fmtBytes(246824), '241\u00a0KiB');
  assert.equal(fmtSeconds(0.4123), '412\u00a0ms');
  assert.equal(fmtSeconds(2.314), '2.31\u00a0s');
  const rows = [1e-7, 1e-6, 1e-5].map((ber, i) => ({ ber, meanDrop: [0.1, 0.5, 3][i], ciHigh: [0.2, 0.9, 5][i] })) as CampaignRow[];
  assert.equal(toleratedBer(rows, 1), 1e-6);
  assert.equal(toleratedBer(rows, 0.1), null);
});

test('writeReport writes html, json and csv; replaces its own stale files only; escapes text; records provenance', () => {
  const out = join(dir, 'report-out');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'notes.csv'), 'mine');
  // an earlier report with a prune table: its prune.csv is flipguard's (listed in the manifest)
  assert.ok(writeReport({ inputs: sampleReportInputs(3), outDir: out, force: true }).csv.some((p) => p.endsWith('prune.csv')));
  const inputs = sampleReportInputs(3).filter((i) => i.name !== 'prune');
  const evil = { name: 'evil', data: { method: 'x</script><b>', layers: [{ name: '</script><script>alert(1)</script>', op: 'Conv', unit: 'channel', scores: [1, 2] }] } };
  const r = writeReport({ inputs: [...inputs, evil], outDir: out, force: true, title: 'Review <draft> & notes', provenance: { commands: ['flipguard report run/'], seeds: [42] } });
  assert.equal(r.html, join(out, 'report.html'));
  assert.deepEqual(r.csv.map((p) => p.slice(out.length + 1)), ['campaign.csv', 'overheads.csv', 'scores.csv', 'layers.csv', 'compare.csv']);
  assert.equal(existsSync(join(out, 'prune.csv')), false);
  assert.equal(readFileSync(join(out, 'notes.csv'), 'utf8'), 'mine');
  const html = readFileSync(r.html, 'utf8');
  assert.match(html, /<title>Review &lt;draft&gt; &amp; notes<\/title>/);
  assert.equal(html.match(/<\/script>/g)?.length, 3); // the data block, Vega, the renderer: nothing from the inputs
  assert.doesNotMatch(html, /<script>alert/);
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org\/)/);
  const json = JSON.parse(readFileSync(r.json, 'utf8'));
  assert.equal(json.format, 'flipguard-report');
  assert.equal(json.campaigns.length, 3);
  assert.equal(json.charts.length, 9);
  assert.match(html, /<section id="pareto">/);
  assert.match(html, /<section id="bits">/);
  const pv = json.provenance;
  assert.equal(pv.commands.at(-1), 'flipguard report run/');
  assert.ok(pv.commands.length > 1, 'commands of the provenance input come first');
  assert.deepEqual(pv.seeds, [1, 42]);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(pv.versions.flipguard, pkg.version);
  assert.equal(pv.versions.node, process.versions.node);
  assert.match(pv.versions['onnxruntime-node'], /^\d+\.\d+/);
  assert.ok(pv.machine.cores >= 1 && pv.machine.cpu.length > 0 && pv.machine.os.length > 0);
  // an output path that is a file
  throwsFg(() => writeReport({ inputs, outDir: r.html }), /report folder .* is a file/);
});

test('the files the other commands write: harden sweep and single report, prune command report, comparison', () => {
  const ov = (r: number) => ({
    parameters: { original: 1000, hardened: 1000 * r, ratio: r }, storedBytes: { original: 4000, hardened: 4000 * r, ratio: r },
    macs: { original: 5000, hardened: 5000 * r, ratio: r }, time: { original: 0.5, hardened: 0.5 * r, ratio: r, runs: 3, batch: 256, images: 2000 },
  });
  const campaign = (v: 'lenet5-baseline' | 'lenet5-tmr10', name: string) =>
    JSON.parse(JSON.stringify(summaryJson(summarize(sampleTrials(v, 4), { golden: { accuracy: 0.99, correct: 1980, count: 2000, due: 0 } }), { variant: name })));
  const sweep = file('sweep.json', JSON.stringify({ model: 'vgg11.onnx', variants: [
    { variant: 'none', method: 'none', ratio: 0, overheads: null, report: null, campaign: campaign('lenet5-baseline', 'none') },
    { variant: 'tmr-channels:0.15', method: 'tmr-channels', ratio: 0.15, overheads: ov(1.4), report: { ratio: 0.15 }, campaign: campaign('lenet5-tmr10', 'tmr-channels:0.15'), modelPath: 'x.onnx' },
  ] }));
  const single = file('edac.json', JSON.stringify({ method: 'edac', ratio: 0.15, ranking: 'eq1', protected: {}, totals: { units: 10, protected: 2 }, memoryOverhead: 0.1, replicaMacs: 3, overheads: ov(1.1) }));
  const prune = file('prune-cmd.json', JSON.stringify({
    rank: 'eq1', ratios: { conv: 0.2, fc: 0.5 }, accuracy: { before: 0.99, after: 0.985, drop: 0.5 },
    parameters: { before: 1000, after: 600, ratio: 0.6 }, storedBytes: { before: 4000, after: 2400, ratio: 0.6 }, macs: { before: 5000, after: 3000, ratio: 0.6 },
    timeMs: { before: 10, after: 7, ratio: 0.7 }, epochs: 2, layers: [], skipped: [], fineTune: null,
    search: { threshold: 1, strategy: 'staircase', evaluations: 3, grid: [], rows: [
      { conv: 0, fc: 0, accuracy: 0.99, drop: 0, parameters: 1000, macs: 5000, timeMs: null, status: 'baseline', accepted: true },
      { conv: 0.2, fc: 0.5, accuracy: 0.985, drop: 0.5, parameters: 600, macs: 3000, timeMs: 5123, status: 'accepted', accepted: true },
      { conv: 0.5, fc: 0.5, accuracy: null, drop: null, parameters: 400, macs: 2000, timeMs: null, status: 'not-evaluated', accepted: null },
    ] },
  }));
  const compare = file('cmp.json', JSON.stringify({ layer: 'conv2', op: 'Conv', ber: 1e-3, k: 4, unit: 'channel', trials: 10, faults: null, exhaustive: false, bits: [30],
    goldenAccuracy: 0.99, images: 500, constantGroundTruth: false, splitHalf: 0.8, groundTruth: [1, 2], units: [0, 1],
    rows: [{ method: 'eq1', spearman: 0.8, kendall: 0.6, topkOverlap: 0.75 }, { method: 'uniform', spearman: 0, kendall: 0, topkOverlap: 0.25, constant: true }] }));
  const d = buildReportData({ inputs: [sweep, single, prune, compare] });
  assert.deepEqual(d.inputs.map((i) => i.kind), ['harden-sweep', 'harden', 'prune', 'compare']);
  assert.deepEqual(d.campaigns.map((c) => c.variant), ['none', 'tmr-channels:0.15']);
  assert.deepEqual(d.harden.map((h) => h.variant), ['tmr-channels:0.15', 'edac']);
  assert.equal(d.harden[0].overheads.time?.images, 2000);
  const p = d.prune[0];
  assert.equal(p.explored.length, 3);
  assert.deepEqual([p.chosen?.pConv, p.chosen?.pFc, p.chosen?.status], [0.2, 0.5, 'accepted']);
  assert.equal(p.explored[2].accuracy, null);
  assert.equal(p.outcome?.timeMs?.after, 7);
  assert.equal(p.threshold, 1);
  const { html } = writeReport({ inputs: [sweep, single, prune, compare], outDir: join(dir, 'real') });
  const page = readFileSync(html, 'utf8');
  assert.match(page, /one pass over 2,000 images/);
  assert.match(page, /500\u00a0ms/); // 0.5 s per pass
  assert.match(page, /not-evaluated/);
  assert.match(page, /\(constant scores/);
  assert.match(page, /\(Conv, per channel\)/);
  throwsFg(() => loadInputs([file('bad-sweep.json', JSON.stringify({ variants: [{ variant: 'x', method: 'tmr', ratio: 0.1, overheads: null, campaign: { golden: { accuracy: 2 }, bers: [] } }] }))]),
    /harden sweep but its variants\[0\]\.campaign\.golden\.accuracy is 2/);
});

test('Pareto view: fronts per cost, dominated variants and by which, interval-aware flag', async () => {
  const { paretoView, paretoBer } = await import('../src/report/pareto.js');
  const v = paretoView([
    { variant: 'none', drop: 15, ciLow: 5, ciHigh: 25, memory: 0, time: 0 },
    { variant: 'cheap', drop: 1, ciLow: 0.5, ciHigh: 1.5, memory: 0.06, time: 0 },
    { variant: 'costly', drop: 2, ciLow: 1, ciHigh: 3, memory: 0.15, time: 0.3 },
    { variant: 'noisy', drop: 1.2, ciLow: -1, ciHigh: 3.4, memory: 0.1, time: 0.01 },
  ], 1e-5);
  const by = Object.fromEntries(v.rows.map((r) => [r.variant, r]));
  assert.deepEqual([by.none.front, by.cheap.front, by.costly.front, by.noisy.front], [true, true, false, false]);
  assert.deepEqual(by.costly.dominatedBy, ['cheap', 'noisy']);
  assert.equal(by.costly.clearly, false, 'cheap\'s interval overlaps costly\'s');
  assert.deepEqual(by.noisy.dominatedBy, ['cheap']);
  assert.equal(by.none.frontMemory, true);
  assert.equal(by.none.frontTime, false, 'cheap is as fast and better');
  assert.equal(paretoBer([[1e-6, 1e-5, 1e-4], [1e-5, 1e-4]], 1e-5), 1e-5);
  assert.equal(paretoBer([[1e-6, 1e-4], [1e-4, 1e-6]], 1e-5), 1e-4);
  // the sample report: the baseline campaign (no harden report) is the unprotected point
  const d = buildReportData({ inputs: sampleReportInputs(20) });
  assert.equal(d.pareto!.ber, 1e-5);
  const base = d.pareto!.rows.find((r) => r.variant === 'lenet5-baseline')!;
  assert.deepEqual([base.memory, base.time], [0, 0]);
  assert.equal(d.pareto!.rows.length, 3);
  assert.equal(d.bitProfiles[0].rows.length, 32);
});

test('the files the report reads are the producers\' own types: written, read back equal; a hostile scores file is one sentence', () => {
  // a campaign summary as summaryJson writes it reads back (through JSON) with the producer's validator
  const trials = sampleTrials(SAMPLE_VARIANTS[0], 5);
  const written = JSON.parse(JSON.stringify(summaryJson(summarize(trials, { golden: { accuracy: 0.9, correct: 9, count: 10, due: 0 } }), { variant: 'v' })));
  assert.deepEqual(readSummaryFile(written), written);
  // rank --json is a Scores serialised; readScores (harden/prune --scores) and the report share readScoresFile
  const scores = { method: 'l1', layers: [{ name: 'conv1', op: 'Conv', unit: 'channel' as const, scores: [0.5, 2] }], info: { note: 1 } };
  assert.deepEqual(readScoresFile(JSON.parse(JSON.stringify(scoresFile(scores)))), scores);
  const dir = mkdtempSync(join(tmpdir(), 'fg-typed-'));
  const bad = join(dir, 'scores.json');
  writeFileSync(bad, JSON.stringify({ method: 'l1', layers: [{ name: 'conv1', op: 'Conv', unit: 'channel', scores: [1, 'x'] }] }));
  assert.throws(() => readScores(bad), (e: unknown) => e instanceof FlipguardError && /^"[^"]+scores\.json" is not a scores file \(its layers\[0\]\.scores\[1\] is "x", not a number \(or null for NaN\)\); give a file written by "flipguard rank --json"\.$/.test(e.message));
  writeFileSync(bad, JSON.stringify({ method: 'l1', layers: [{ name: 'conv1', op: 'Conv', unit: 'row', scores: [1] }] }));
  assert.throws(() => readScores(bad), /its layers\[0\]\.unit is "row", not one of channel, neuron, weight/);
  // a comparison file: what rank --compare writes (Comparison) is what the report's validator returns
  const cmp = { layer: 'conv2', ber: 1e-3, rows: [{ method: 'l1', spearman: 0.5, kendall: 0.25, topkOverlap: 1 }], k: 2, op: 'Conv', unit: 'channel', trials: 4 };
  assert.deepEqual(readComparisonFile(JSON.parse(JSON.stringify(cmp))), cmp);
  assert.throws(() => readComparisonFile({ ...cmp, rows: [{ ...cmp.rows[0], spearman: 2 }] }), (e: unknown) => e instanceof FieldError && e.field === 'rows[0].spearman');
  rmSync(dir, { recursive: true, force: true });
});

test('harden report, sweep, prune, bit-profile and provenance files are read with their producers\' types and validators; a tampered one is one sentence, exit 2, nothing written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-typed-'));
  const roundTrip = (name: string, doc: unknown) => { const p = join(dir, name); writeFileSync(p, JSON.stringify(doc)); return loadInputFile(p); };
  // harden --json: an Overheads object as overheads() returns it, beside fields the report ignores
  const ratio = (original: number, hardened: number) => ({ original, hardened, ratio: hardened / original });
  const ov: Overheads = { parameters: ratio(100, 130), storedBytes: ratio(400, 520), macs: ratio(1000, 1000), time: { ...ratio(0.5, 0.6), runs: 3, batch: 256, images: 64 } };
  const harden = { method: 'edac', ratio: 0.15, ranking: 'eq1', totals: { units: 10, protected: 2 }, overheads: ov };
  const h = roundTrip('edac.json', harden);
  assert.equal(h.kind, 'harden');
  assert.deepEqual(h.data, readHardenReportFile(JSON.parse(JSON.stringify(harden))));
  assert.deepEqual(h.data, { method: 'edac', ratio: 0.15, overheads: ov });
  // harden --sweep --json: sweepJson of the sweep's rows
  const campaign = { ...summarize(sampleTrials(SAMPLE_VARIANTS[0], 3), { golden: { accuracy: 0.9912, correct: 9912, count: 10000, due: 0 } }), config: {}, records: [], ran: 0, resumed: 0 } as unknown as SweepRow['campaign'];
  const rows: SweepRow[] = [
    { variant: 'none', method: 'none', ratio: 0, overheads: null, report: null, campaign },
    { variant: 'edac:0.15', method: 'edac', ratio: 0.15, overheads: ov, report: null, campaign, modelPath: 'v/edac-0-15.onnx' },
  ];
  const sweep = JSON.parse(JSON.stringify(sweepJson(rows, { model: 'lenet5.onnx' }))) as HardenSweepFile;
  const s = roundTrip('sweep.json', sweep);
  assert.equal(s.kind, 'harden-sweep');
  assert.deepEqual(s.data, { model: 'lenet5.onnx', variants: sweep.variants.map((v) => ({ variant: v.variant, method: v.method, ratio: v.ratio, overheads: v.overheads, campaign: readSummaryFile(v.campaign as never) })) });
  assert.equal((s.data as HardenSweepFile).variants[1].overheads?.time?.runs, 3);
  // prune --json: a PruneReport read as its chosen point and outcome
  const pruneReport = { rank: 'l1', ratios: { conv: 0.25, fc: 0.5 }, accuracy: { before: 0.99, after: 0.985, drop: 0.5 }, parameters: { before: 100, after: 60, ratio: 0.6 }, storedBytes: { before: 400, after: 240, ratio: 0.6 }, macs: { before: 1000, after: 700, ratio: 0.7 }, timeMs: null, epochs: 0, layers: [], skipped: [], fineTune: null, search: null } satisfies PruneReport;
  const p = roundTrip('prune.json', pruneReport);
  assert.equal(p.kind, 'prune');
  assert.deepEqual(p.data, readPruneReportFile(pruneReport));
  assert.deepEqual((p.data as PruneReportFile).chosen, { pConv: 0.25, pFc: 0.5, accuracy: 0.985, parameters: 60, macs: 700, timeMs: null, accepted: true });
  assert.deepEqual((p.data as PruneReportFile).outcome?.storedBytes, pruneReport.storedBytes);
  // provenance
  const prov = { commands: ['flipguard demo --quick'], seeds: [1], versions: { flipguard: '0.1.0' }, machine: { cores: 2 } };
  const q = roundTrip('provenance.json', prov);
  assert.equal(q.kind, 'provenance');
  assert.deepEqual(q.data, readProvenanceFile(prov));
  assert.deepEqual(q.data, prov);
  // rank --compare --compare-unit bit --json: a BitProfile read back without its golden accuracy
  const profile: BitProfile = { layer: 'conv1', weights: 150, trials: 2, faults: 1, seed: 3, images: 20, goldenAccuracy: 0.95, rows: [{ bit: 30, field: 'exponent', drop: 40, ci95: [30, 50], sdc: 0.4, due: 0.05 }] };
  const b = roundTrip('bits.json', profile);
  assert.equal(b.kind, 'bit-profile');
  const { goldenAccuracy: _, ...profileFile } = profile;
  assert.deepEqual(b.data, profileFile);
  // a tampered file of each kind: one sentence naming the file, the field and the fix
  const tampered: [string, unknown, string, RegExp][] = [
    ['edac.json', { ...harden, overheads: { ...ov, time: { ...ov.time, ratio: -1 } } }, 'harden report', /its overheads\.time\.ratio is -1, outside \[0, Infinity\]/],
    ['edac.json', { ...harden, overheads: {} }, 'harden report', /its overheads holds none of parameters, storedBytes, macs, time/],
    ['sweep.json', { ...sweep, variants: [{ ...sweep.variants[0], campaign: { ...sweep.variants[0].campaign, bers: 'x' } }] }, 'harden sweep', /its variants\[0\]\.campaign\.bers is missing or not a list/],
    ['sweep.json', { ...sweep, variants: [{ ...sweep.variants[1], ratio: 1.5 }] }, 'harden sweep', /its variants\[0\]\.ratio is 1\.5, outside \[0, 1\]/],
    ['prune.json', { ...pruneReport, macs: { before: 1000, after: 'many' } }, 'prune report', /its macs\.after is missing or not a finite number/],
    ['prune.json', { explored: [{ pConv: 2, pFc: 0, accuracy: 0.9, parameters: 1, macs: 1, accepted: true }], chosen: null }, 'prune report', /its explored\[0\]\.pConv is 2, outside \[0, 1\]/],
    ['bits.json', { ...profile, rows: [{ ...profile.rows[0], bit: 32 }] }, 'bit-position profile', /its rows\[0\]\.bit is 32, outside \[0, 31\]/],
    ['provenance.json', { commands: ['flipguard demo', 7] }, 'provenance file', /its commands\[1\] is missing or not a non-empty string/],
  ];
  for (const [name, doc, label, field] of tampered) {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(doc));
    assert.throws(() => loadInputFile(path), (e: unknown) => {
      assert.ok(e instanceof FlipguardError);
      assert.ok(e.message.startsWith(`"${path}" looks like a ${label} but `), e.message);
      assert.match(e.message, field);
      assert.ok(e.message.endsWith('; regenerate it with flipguard or fix that field.'), e.message);
      assert.equal(e.message.split('\n').length, 1);
      return true;
    });
  }
  // the CLI: exit 2, the sentence on stderr, no report folder written
  const out = join(dir, 'flipguard-report');
  const r = spawnSync(process.execPath, [new URL('../src/cli/main.js', import.meta.url).pathname, 'report', join(dir, 'provenance.json'), '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /looks like a provenance file but its commands\[1\] is missing or not a non-empty string; regenerate it with flipguard or fix that field\.\n$/);
  assert.equal(existsSync(out), false);
  rmSync(dir, { recursive: true, force: true });
});
