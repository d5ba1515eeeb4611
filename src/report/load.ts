/**
 * Reading the files flipguard writes: detects each file's kind from its content, checks every field
 * the report uses, and stops with one FlipguardError sentence naming the file (and the field) when a
 * file is unknown, damaged or incomplete.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { readPartialInfo, recordProblem, runnerRecordRules } from '../campaign/records.js';
import { readSummaryFile } from '../campaign/summary.js';
import { readComparisonFile } from '../analysis/groundtruth.js';
import { readScoresFile } from '../analysis/scores.js';
import { FlipguardError } from '../errors.js';
import { FieldError, arr, at, isObj, num, numOrNull, obj, optStr, pair, str, type Obj } from '../util/validate.js';
import {
  OVERHEAD_METRICS,
  type CampaignRecordsFile, type CampaignRecordsHeader, type CampaignSummaryFile, type CampaignTrialLine,
  type HardenReportFile, type HardenSweepFile, type InputKind, type PruneComparison, type PruneOutcome, type LoadedInput, type Overhead, type ProvenanceFile, type PruneReportFile, type PrunePoint,
  type ReportInput, type BitProfileFile, type FormatsFile,
} from './types.js';

/** Human names of the kinds, for messages. */
export const KIND_LABELS: Record<InputKind, string> = {
  'campaign-summary': 'campaign summary',
  'campaign-records': 'campaign record file',
  scores: 'rank scores file',
  harden: 'harden report',
  'harden-sweep': 'harden sweep',
  compare: 'ranking comparison',
  prune: 'prune report',
  provenance: 'provenance file',
  'bit-profile': 'bit-position profile',
  formats: 'per-format comparison',
};

const KNOWN = 'a campaign summary or record file, rank scores, a harden report or sweep, a compare or prune report, a bit-position profile, a per-format comparison, or provenance JSON';

// ───────────────────────────── validators per kind ─────────────────────────────

function isHeader(o: unknown): o is CampaignRecordsHeader {
  return isObj(o) && (o.kind === 'flipguard-campaign' || o.flipguard === 'campaign');
}

function validateHeader(o: Obj): CampaignRecordsHeader {
  if (o.golden !== undefined) num(obj(o.golden, 'header.golden').accuracy, 'header.golden.accuracy', [0, 1]);
  if (isObj(o.run) && o.run.partial !== undefined) readPartialInfo(o.run.partial, 'header.run.partial');
  optStr(o.variant, 'header.variant');
  optStr(o.model, 'header.model');
  return o as CampaignRecordsHeader;
}

const TRIAL_KEYS = ['ber', 'trial', 'seed', 'faults', 'accuracy', 'accuracyDrop', 'sdcRate', 'dueRate', 'millis'] as const;

function validateTrial(v: unknown, f: string): CampaignTrialLine {
  const o = obj(v, f);
  for (const k of TRIAL_KEYS) num(o[k], `${f}.${k}`);
  num(o.ber, `${f}.ber`, [0, 1]);
  num(o.accuracy, `${f}.accuracy`, [0, 1]);
  num(o.sdcRate, `${f}.sdcRate`, [0, 1]);
  num(o.dueRate, `${f}.dueRate`, [0, 1]);
  const t: Partial<CampaignTrialLine> = {};
  for (const k of TRIAL_KEYS) t[k] = o[k] as number;
  return t as CampaignTrialLine;
}

/** Checks trial lines and drops exact duplicates; the same cell with two results is an error. */
function validateTrials(records: readonly unknown[], lineOf: (i: number) => string): CampaignTrialLine[] {
  const cells = new Map<string, CampaignTrialLine>();
  const out: CampaignTrialLine[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = validateTrial(records[i], lineOf(i));
    const key = `${r.ber}|${r.trial}`;
    const prev = cells.get(key);
    if (prev) {
      if (TRIAL_KEYS.some((k) => k !== 'millis' && prev[k] !== r[k])) {
        throw new FieldError(lineOf(i), `repeats trial ${r.trial} at BER ${r.ber} with a different result`);
      }
      continue;
    }
    cells.set(key, r);
    out.push(r);
  }
  return out;
}

function validateOverhead(v: unknown, f: string): Overhead {
  const o = obj(v, f);
  const original = num(o.original, `${f}.original`, [0, Infinity]);
  const hardened = num(o.hardened, `${f}.hardened`, [0, Infinity]);
  let ratio: number;
  if (o.ratio === undefined || o.ratio === null) {
    if (original === 0) throw new FieldError(`${f}.ratio`, 'is missing and cannot be computed (original is 0)');
    ratio = hardened / original;
  } else ratio = num(o.ratio, `${f}.ratio`, [0, Infinity]);
  const out: Overhead = { original, hardened, ratio };
  for (const k of ['images', 'runs', 'batch'] as const) if (o[k] !== undefined && o[k] !== null) out[k] = num(o[k], `${f}.${k}`, [0, Infinity]);
  return out;
}

function validateOverheads(v: unknown, f: string): HardenReportFile['overheads'] {
  const ov = obj(v, f);
  const overheads: HardenReportFile['overheads'] = {};
  for (const m of OVERHEAD_METRICS) if (ov[m] !== undefined && ov[m] !== null) overheads[m] = validateOverhead(ov[m], `${f}.${m}`);
  if (Object.keys(overheads).length === 0) throw new FieldError(f, `holds none of ${OVERHEAD_METRICS.join(', ')}`);
  return overheads;
}

function validateHarden(o: Obj): HardenReportFile {
  const overheads = validateOverheads(o.overheads, 'overheads');
  const out: HardenReportFile = { method: str(o.method, 'method'), ratio: num(o.ratio, 'ratio', [0, 1]), overheads };
  const variant = optStr(o.variant, 'variant');
  if (variant !== undefined) out.variant = variant;
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

function validateHardenSweep(o: Obj): HardenSweepFile {
  const variants = arr(o.variants, 'variants', true).map((v, i) => {
    const f = at('variants', i);
    const vo = obj(v, f);
    let campaign: CampaignSummaryFile | null = null;
    if (vo.campaign !== undefined && vo.campaign !== null) {
      try {
        campaign = readSummaryFile(obj(vo.campaign, `${f}.campaign`));
      } catch (e) {
        if (e instanceof FieldError && !e.field.startsWith(f)) throw new FieldError(`${f}.campaign.${e.field}`, e.problem);
        throw e;
      }
    }
    return {
      variant: str(vo.variant, `${f}.variant`),
      method: str(vo.method, `${f}.method`),
      ratio: num(vo.ratio, `${f}.ratio`, [0, 1]),
      overheads: vo.overheads === undefined || vo.overheads === null ? null : validateOverheads(vo.overheads, `${f}.overheads`),
      campaign,
    };
  });
  const out: HardenSweepFile = { variants };
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

function validateBitProfile(o: Obj): BitProfileFile {
  const rows = arr(o.rows, 'rows', true).map((r, i) => {
    const f = at('rows', i);
    const ro = obj(r, f);
    const ci = arr(ro.ci95, `${f}.ci95`, true);
    if (ci.length !== 2) throw new FieldError(`${f}.ci95`, 'is not a [low, high] pair');
    return {
      bit: num(ro.bit, `${f}.bit`, [0, 31]), field: str(ro.field, `${f}.field`), drop: num(ro.drop, `${f}.drop`, [-100, 100]),
      ci95: [num(ci[0], `${f}.ci95[0]`), num(ci[1], `${f}.ci95[1]`)] as [number, number],
      sdc: num(ro.sdc, `${f}.sdc`, [0, 1]), due: num(ro.due, `${f}.due`, [0, 1]),
    };
  });
  return {
    layer: o.layer === null || o.layer === undefined ? null : str(o.layer, 'layer'),
    weights: num(o.weights, 'weights', [1, Number.MAX_SAFE_INTEGER]), trials: num(o.trials, 'trials', [1, Number.MAX_SAFE_INTEGER]),
    faults: num(o.faults, 'faults', [1, Number.MAX_SAFE_INTEGER]), rows,
    ...(typeof o.seed === 'number' ? { seed: o.seed } : {}), ...(typeof o.images === 'number' ? { images: o.images } : {}),
  };
}

function validatePrunePoint(v: unknown, f: string): PrunePoint {
  const o = obj(v, f);
  if (o.accepted !== null && typeof o.accepted !== 'boolean') throw new FieldError(`${f}.accepted`, 'is missing or not true/false/null');
  // the ratio search writes conv/fc, the brief's format pConv/pFc
  const conv = 'pConv' in o ? 'pConv' : 'conv';
  const fc = 'pFc' in o ? 'pFc' : 'fc';
  const p: PrunePoint = {
    pConv: num(o[conv], `${f}.${conv}`, [0, 1]),
    pFc: num(o[fc], `${f}.${fc}`, [0, 1]),
    accuracy: o.accuracy === null ? null : num(o.accuracy, `${f}.accuracy`, [0, 1]),
    parameters: num(o.parameters, `${f}.parameters`, [0, Infinity]),
    macs: num(o.macs, `${f}.macs`, [0, Infinity]),
    timeMs: o.timeMs === null || o.timeMs === undefined ? null : num(o.timeMs, `${f}.timeMs`, [0, Infinity]),
    accepted: o.accepted as boolean | null,
  };
  if (typeof o.status === 'string') p.status = o.status;
  return p;
}

function comparison(v: unknown, f: string): PruneComparison {
  const o = obj(v, f);
  const before = num(o.before, `${f}.before`, [0, Infinity]);
  const after = num(o.after, `${f}.after`, [0, Infinity]);
  return { before, after, ratio: o.ratio === undefined || o.ratio === null ? (before > 0 ? after / before : NaN) : num(o.ratio, `${f}.ratio`) };
}

/** `flipguard prune --json` (prune/index.ts PruneReport) read as explored points, choice and outcome. */
function validatePruneCommandReport(o: Obj): PruneReportFile {
  const ratios = obj(o.ratios, 'ratios');
  const acc = obj(o.accuracy, 'accuracy');
  const accOf = (k: string): number | null => (acc[k] === null || acc[k] === undefined ? null : num(acc[k], `accuracy.${k}`, [0, 1]));
  const outcome: PruneOutcome = {
    accuracyBefore: accOf('before'),
    accuracyAfter: accOf('after'),
    parameters: comparison(o.parameters, 'parameters'),
    macs: comparison(o.macs, 'macs'),
  };
  if (o.storedBytes !== undefined && o.storedBytes !== null) outcome.storedBytes = comparison(o.storedBytes, 'storedBytes');
  outcome.timeMs = o.timeMs === undefined || o.timeMs === null ? null : comparison(o.timeMs, 'timeMs');
  const chosen: PrunePoint = {
    pConv: num(ratios.conv, 'ratios.conv', [0, 1]), pFc: num(ratios.fc, 'ratios.fc', [0, 1]),
    accuracy: outcome.accuracyAfter, parameters: outcome.parameters.after, macs: outcome.macs.after, timeMs: null, accepted: true,
  };
  const out: PruneReportFile = { explored: [chosen], chosen, outcome };
  if (o.search !== undefined && o.search !== null) {
    const search = obj(o.search, 'search');
    out.explored = arr(search.rows, 'search.rows', true).map((p, i) => validatePrunePoint(p, at('search.rows', i)));
    if (search.threshold !== undefined && search.threshold !== null) out.threshold = num(search.threshold, 'search.threshold');
    const c = out.explored.find((e) => e.pConv === chosen.pConv && e.pFc === chosen.pFc);
    if (c) out.chosen = c;
  }
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

function validatePrune(o: Obj): PruneReportFile {
  if (!('explored' in o)) return validatePruneCommandReport(o);
  const explored = arr(o.explored, 'explored', true).map((p, i) => validatePrunePoint(p, at('explored', i)));
  const chosen = o.chosen === undefined || o.chosen === null ? null : validatePrunePoint(o.chosen, 'chosen');
  const out: PruneReportFile = { explored, chosen };
  if (typeof o.threshold === 'number' && Number.isFinite(o.threshold)) out.threshold = o.threshold;
  const variant = optStr(o.variant, 'variant');
  if (variant !== undefined) out.variant = variant;
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

function validateFormats(o: Obj): FormatsFile {
  const formats = arr(o.formats, 'formats', true).map((v, i) => {
    const f = at('formats', i);
    const fo = obj(v, f);
    let summary: CampaignSummaryFile;
    try {
      summary = readSummaryFile(obj(fo.summary, `${f}.summary`));
    } catch (e) {
      if (e instanceof FieldError && !e.field.startsWith(f)) throw new FieldError(`${f}.summary.${e.field}`, e.problem);
      throw e;
    }
    const entry: FormatsFile['formats'][number] = { format: str(fo.format, `${f}.format`), bits: num(fo.bits, `${f}.bits`, [0, Number.MAX_SAFE_INTEGER]), summary };
    const variant = optStr(fo.variant, `${f}.variant`);
    if (variant !== undefined) entry.variant = variant;
    return entry;
  });
  const seen = new Set<string>();
  for (const [i, e] of formats.entries()) {
    const key = `${e.format}|${e.variant ?? 'none'}`;
    if (seen.has(key)) throw new FieldError(at('formats', i), `repeats format ${e.format}${e.variant ? ` with variant ${e.variant}` : ''}`);
    seen.add(key);
  }
  const out: FormatsFile = { formats };
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

function validateProvenance(o: Obj): ProvenanceFile {
  const commands = arr(o.commands, 'commands').map((c, i) => str(c, at('commands', i)));
  const out: ProvenanceFile = { commands };
  if (o.seeds !== undefined) out.seeds = arr(o.seeds, 'seeds');
  if (o.versions !== undefined) {
    const v = obj(o.versions, 'versions');
    out.versions = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  }
  if (o.machine !== undefined) out.machine = obj(o.machine, 'machine');
  return out;
}

// ───────────────────────────── detection ─────────────────────────────

/**
 * The kind of a parsed JSON document, from the fields it holds (undefined: not a flipguard file).
 * A lone campaign header (a record file with no trials yet) is 'campaign-records'.
 */
export function detectKind(doc: unknown): InputKind | undefined {
  if (!isObj(doc)) return undefined;
  if (isHeader(doc) || (isHeader(doc.header) && Array.isArray(doc.records))) return 'campaign-records';
  if (Array.isArray(doc.formats) && doc.formats.some((f) => isObj(f) && 'summary' in f)) return 'formats';
  if ('golden' in doc && 'bers' in doc) return 'campaign-summary';
  if (Array.isArray(doc.variants) && doc.variants.some((v) => isObj(v) && ('campaign' in v || 'overheads' in v))) return 'harden-sweep';
  if ('overheads' in doc) return 'harden';
  if ('explored' in doc || ('ratios' in doc && 'accuracy' in doc && 'macs' in doc)) return 'prune';
  if (Array.isArray(doc.rows) && 'faults' in doc && 'weights' in doc) return 'bit-profile';
  if ('rows' in doc && ('layer' in doc || 'ber' in doc)) return 'compare';
  if ('layers' in doc && 'method' in doc) return 'scores';
  if ('commands' in doc) return 'provenance';
  return undefined;
}

function isReportOutput(doc: unknown): boolean {
  return isObj(doc) && doc.format === 'flipguard-report';
}

const GENERIC_NAMES = new Set(['campaign', 'summary', 'records', 'trials', 'results', 'result', 'out', 'output', 'scores', 'rank', 'harden', 'hardened', 'compare', 'prune', 'provenance', 'report']);

/**
 * A display name from a file path: the file name without `.json`/`.jsonl` and without a trailing
 * `.summary`/`-summary`/`.records` or a kind such as `.harden`; a generic name such as `campaign.json` or `summary.json` gives way to its
 * folder's name (`runs/vgg11-tmr/summary.json` → `vgg11-tmr`).
 */
export function nameFromPath(path: string): string {
  let b = basename(path);
  const ext = extname(b).toLowerCase();
  if (ext === '.json' || ext === '.jsonl') b = b.slice(0, -ext.length);
  b = b.replace(/[._-](summary|records)$/i, '').replace(/\.(campaign|trials|harden|hardened|scores|rank|compare|prune|provenance)$/i, '');
  if (b === '' || GENERIC_NAMES.has(b.toLowerCase())) {
    const dir = basename(dirname(resolve(path)));
    if (dir && dir !== '.' && dir !== '/') return dir;
  }
  return b || basename(path);
}

function wrap(source: string, kind: InputKind, e: unknown): never {
  if (e instanceof FieldError) {
    throw new FlipguardError(`"${source}" looks like a ${KIND_LABELS[kind]} but its ${e.field} ${e.problem}; regenerate it with flipguard or fix that field.`);
  }
  throw e;
}

/** Validates a parsed document of kind `kind` (see detectKind). */
function validate(kind: InputKind, doc: Obj, source: string, name: string): LoadedInput {
  try {
    switch (kind) {
      case 'campaign-summary': return { kind, source, name, data: readSummaryFile(doc) };
      case 'campaign-records': {
        const header = validateHeader(isHeader(doc) ? doc : obj(doc.header, 'header'));
        const raw = isHeader(doc) ? [] : arr(doc.records, 'records');
        const records = validateTrials(raw, (i) => at('records', i));
        if (records.length === 0) throw new FlipguardError(`"${source}" is a campaign record file with no finished trials yet; let the campaign run, or leave the file out.`);
        return { kind, source, name, data: { header, records }, warnings: [] };
      }
      case 'scores': return { kind, source, name, data: readScoresFile(doc) };
      case 'harden': return { kind, source, name, data: validateHarden(doc) };
      case 'harden-sweep': return { kind, source, name, data: validateHardenSweep(doc) };
      case 'compare': return { kind, source, name, data: readComparisonFile(doc) };
      case 'prune': return { kind, source, name, data: validatePrune(doc) };
      case 'provenance': return { kind, source, name, data: validateProvenance(doc) };
      case 'bit-profile': return { kind, source, name, data: validateBitProfile(doc) };
      case 'formats': return { kind, source, name, data: validateFormats(doc) };
    }
  } catch (e) {
    wrap(source, kind, e);
  }
}

function unknownFile(source: string, why: string): FlipguardError {
  return new FlipguardError(`"${source}" is not a file flipguard writes (${why}); pass ${KNOWN}.`);
}

/** Parses a campaign JSON-lines text (header line, then one trial per line). */
function parseCampaignLines(text: string, source: string, name: string): LoadedInput {
  const warnings: string[] = [];
  const endsWithNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (endsWithNewline) lines.pop();
  let header: CampaignRecordsHeader | undefined;
  const records: unknown[] = [];
  const lineNos: number[] = [];
  const runLines: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (i === lines.length - 1 && !endsWithNewline && header) {
        // a process killed while writing leaves a torn last line: finished lines are still valid
        warnings.push(`"${source}": the unfinished last line ${i + 1} was ignored (the campaign was stopped while writing it).`);
        continue;
      }
      if (!header) throw unknownFile(source, 'its first line is not JSON');
      throw new FlipguardError(`Line ${i + 1} of "${source}" is damaged (not JSON); move the file away or remove that line.`);
    }
    if (header && isObj(v) && v.flipguard === 'run') { runLines.push(v.run); continue; } // a resume asked for more cells: not a trial
    if (!header) {
      if (!isHeader(v)) {
        if (detectKind(v) !== undefined || (isObj(v) && typeof v.ber === 'number' && typeof v.trial === 'number')) {
          throw new FlipguardError(`"${source}" holds JSON lines without a campaign header line; pass the campaign's own output file, which starts with {"flipguard":"campaign",...} or {"kind":"flipguard-campaign",...}.`);
        }
        throw unknownFile(source, 'its first line is not a campaign header');
      }
      try {
        header = validateHeader(v);
      } catch (e) {
        wrap(source, 'campaign-records', e);
      }
      continue;
    }
    records.push(v);
    lineNos.push(i + 1);
  }
  if (!header) throw new FlipguardError(`"${source}" is empty; pass ${KNOWN}.`);
  // the runner's own files are held to the runner's rules (cell of the campaign, seed, whole counts)
  const rules = runnerRecordRules(header, runLines);
  if (rules) {
    records.forEach((r, i) => {
      const p = recordProblem(rules, r);
      if (p) throw new FlipguardError(`Line ${lineNos[i]} of "${source}" ${p}; the file was changed or damaged after flipguard wrote it, so regenerate it or remove that line.`);
    });
  }
  let trials: CampaignTrialLine[];
  try {
    trials = validateTrials(records, (i) => `line ${lineNos[i]}`);
  } catch (e) {
    const m = e instanceof FieldError ? /^line (\d+)(?:\.(.*))?$/.exec(e.field) : null;
    if (e instanceof FieldError && m) {
      throw new FlipguardError(`Line ${m[1]} of "${source}" is damaged (${m[2] ? `its ${m[2]} ` : ''}${e.problem}); move the file away or remove that line.`);
    }
    throw e;
  }
  if (trials.length === 0) throw new FlipguardError(`"${source}" is a campaign record file with no finished trials yet; let the campaign run, or leave the file out.`);
  const data: CampaignRecordsFile = { header, records: trials };
  return { kind: 'campaign-records', source, name, data, warnings };
}

/** A JSON.parse message on one line, with "position N" turned into a line and column. */
function jsonProblem(message: string, text: string): string {
  let m = message.replace(/\s+/g, ' ').trim();
  const pos = /at position (\d+)/.exec(m);
  if (pos) {
    const before = text.slice(0, Number(pos[1]));
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    m = m.replace(/at position \d+( \(line \d+ column \d+\))?/, `at line ${line}, column ${col}`);
  }
  return m.length > 120 ? `${m.slice(0, 117)}...` : m;
}

/** Parses the text of one input file (JSON document or campaign JSON lines). */
export function parseInputText(text: string, source: string, name = nameFromPath(source)): LoadedInput {
  const t = text.replace(/^\uFEFF/, '');
  if (t.trim() === '') throw new FlipguardError(`"${source}" is empty; pass ${KNOWN}.`);
  let doc: unknown;
  let jsonError: string | undefined;
  try {
    doc = JSON.parse(t);
  } catch (e) {
    jsonError = (e as Error).message;
  }
  if (jsonError !== undefined) {
    const firstLine = t.trimStart().split('\n', 1)[0];
    let first: unknown;
    try {
      first = JSON.parse(firstLine);
    } catch {
      first = undefined;
    }
    if (first !== undefined && t.trim().includes('\n')) return parseCampaignLines(t, source, name);
    throw new FlipguardError(`"${source}" is not valid JSON (${jsonProblem(jsonError, t)}); it may be cut short or damaged, so regenerate it with flipguard.`);
  }
  if (isReportOutput(doc)) throw new FlipguardError(`"${source}" is a report written by flipguard report, not one of its inputs; pass the campaign, rank, harden, compare, prune or provenance files it was made from.`);
  const kind = detectKind(doc);
  if (!kind) throw unknownFile(source, Array.isArray(doc) ? 'it holds a JSON list' : isObj(doc) ? 'its fields match no known kind' : 'it holds a single JSON value');
  return validate(kind, doc as Obj, source, name);
}

/** Reads and validates one input file. */
export function loadInputFile(path: string): LoadedInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FlipguardError(`Input "${path}" does not exist; check the path.`);
    throw new FlipguardError(`Input "${path}" cannot be read (${code ?? (e as Error).message}); check the path and its permissions.`);
  }
  return parseInputText(text, path);
}

/** The *.json and *.jsonl files directly inside a folder, sorted by name. */
function folderFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && /\.(json|jsonl)$/i.test(d.name))
    .map((d) => join(dir, d.name))
    .sort();
}

function isNamed(v: unknown): v is { name: string; data: unknown } {
  return isObj(v) && typeof v.name === 'string' && 'data' in v && Object.keys(v).length === 2;
}

/**
 * Loads every input: a file path, a folder path (its *.json and *.jsonl files, not recursing; a
 * report.json written by this module is skipped), a parsed document, or `{name, data}`.
 */
export function loadInputs(inputs: readonly ReportInput[]): LoadedInput[] {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new FlipguardError('No inputs were given to the report; pass campaign, rank, harden, compare, prune or provenance files.');
  const out: LoadedInput[] = [];
  inputs.forEach((input, i) => {
    if (typeof input === 'string') {
      let isDir = false;
      try {
        isDir = statSync(input).isDirectory();
      } catch {
        isDir = false; // loadInputFile gives the message
      }
      if (!isDir) { out.push(loadInputFile(input)); return; }
      const files = folderFiles(input);
      let n = 0;
      for (const f of files) {
        let text: string;
        try {
          text = readFileSync(f, 'utf8');
        } catch (e) {
          throw new FlipguardError(`Input "${f}" cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check its permissions.`);
        }
        try {
          if (isReportOutput(JSON.parse(text))) continue;
        } catch {
          // not one JSON document: parseInputText decides
        }
        out.push(parseInputText(text, f));
        n++;
      }
      if (n === 0) throw new FlipguardError(`The folder "${input}" holds no .json or .jsonl files flipguard wrote; pass the run folder or the files themselves.`);
      return;
    }
    const named = isNamed(input);
    const name = named ? input.name : undefined;
    const doc = named ? input.data : input;
    const source = name ?? `input ${i + 1}`;
    if (isReportOutput(doc)) throw new FlipguardError(`Input ${i + 1} is a report written by flipguard report, not one of its inputs; pass the documents it was made from.`);
    const kind = detectKind(doc);
    if (!kind) throw new FlipguardError(`Input ${i + 1}${name ? ` ("${name}")` : ''} is not a document flipguard writes; pass ${KNOWN}.`);
    out.push(validate(kind, doc as Obj, source, name ?? (isObj(doc) && typeof doc.variant === 'string' ? doc.variant : source)));
  });
  return out;
}
