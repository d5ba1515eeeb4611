/**
 * Reading the files flipguard writes: detects each file's kind from its content, checks it with its
 * producer's validator (the campaign record files with the runner's record rules), and stops with
 * one FlipguardError sentence naming the file (and the field) when a file is unknown, damaged or
 * incomplete.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { readPartialInfo, recordProblem, runnerRecordRules } from '../campaign/records.js';
import { readSummaryFile } from '../campaign/summary.js';
import { readComparisonFile } from '../analysis/groundtruth.js';
import { readScoresFile } from '../analysis/scores.js';
import { PAPER_CONVENTIONS_KIND, readPaperConventions } from '../harden/paper-claims.js';
import { FlipguardError } from '../errors.js';
import { FieldError, arr, at, isObj, num, obj, optStr, type Obj } from '../util/validate.js';
import { readHardenReportFile } from '../harden/overhead.js';
import { readPruneReportFile } from '../prune/index.js';
import { readHardenSweepFile } from '../workflows/sweep.js';
import { readProvenanceFile } from './provenance.js';
import { readBitProfileFile } from '../analysis/bit-profile.js';
import { readFormatsFile } from '../workflows/formats.js';
import type {
  CampaignRecordsFile, CampaignRecordsHeader, CampaignTrialLine, InputKind, LoadedInput, ReportInput,
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
  'paper-conventions': 'paper-conventions table',
};

const KNOWN = 'a campaign summary or record file, rank scores, a harden report or sweep, a compare or prune report, a bit-position profile, a per-format comparison, a paper-conventions table, or provenance JSON';

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

// ───────────────────────────── detection ─────────────────────────────

/**
 * The kind of a parsed JSON document, from the fields it holds (undefined: not a flipguard file).
 * A lone campaign header (a record file with no trials yet) is 'campaign-records'.
 */
export function detectKind(doc: unknown): InputKind | undefined {
  if (!isObj(doc)) return undefined;
  if (isHeader(doc) || (isHeader(doc.header) && Array.isArray(doc.records))) return 'campaign-records';
  if (Array.isArray(doc.formats) && doc.formats.some((f) => isObj(f) && 'summary' in f)) return 'formats';
  if (doc.kind === PAPER_CONVENTIONS_KIND) return 'paper-conventions';
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
      case 'harden': return { kind, source, name, data: readHardenReportFile(doc) };
      case 'harden-sweep': return { kind, source, name, data: readHardenSweepFile(doc) };
      case 'compare': return { kind, source, name, data: readComparisonFile(doc) };
      case 'prune': return { kind, source, name, data: readPruneReportFile(doc) };
      case 'provenance': return { kind, source, name, data: readProvenanceFile(doc) };
      case 'bit-profile': return { kind, source, name, data: readBitProfileFile(doc) };
      case 'formats': return { kind, source, name, data: readFormatsFile(doc) };
      case 'paper-conventions': return { kind, source, name, data: readPaperConventions(doc) };
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
