/**
 * The papers-at-their-own-conventions table (workflows/paper-conventions.ts): claims judged from the
 * 95% intervals (holds, does not hold, undecided), the JSON read back with the producer's validator
 * (a damaged file is one sentence naming the field), and the report section fed from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paperClaims, readPaperConventions, PAPER_CONVENTIONS_KIND, type PaperConventionRow, type PaperConventions } from '../src/workflows/paper-conventions.js';
import { buildReportData, reportHtml } from '../src/report/index.js';
import { FieldError } from '../src/util/validate.js';
import { FlipguardError } from '../src/errors.js';

const row = (paper: 'B' | 'C', role: PaperConventionRow['role'], accuracy: number, ci: [number, number], extra: Partial<PaperConventionRow> = {}): PaperConventionRow => ({
  paper, model: paper === 'B' ? 'alexnet' : 'resnet20', variant: `${role} ${paper}`, role, ratio: role === 'none' ? null : 0.02, memory: role === 'none' ? 0 : 0.0625, time: 0.1,
  ber: 1e-4, count: paper === 'B' ? 'floor' : 'binomial', trials: 10, accuracy, drop: (ci[0] + ci[1]) / 2, ci95: ci, ...extra,
});

// paper B: the method gains 100% over none (decided) but loses to tmr-bits; the random baseline overlaps
const rowsB = [
  row('B', 'none', 0.4, [55, 61]), row('B', 'paper', 0.8, [15, 25]), row('B', 'baseline', 0.75, [20, 30]),
  row('B', 'tmr-bits', 0.99, [0, 1]), row('B', 'ranger', 0.5, [45, 52]),
];
// paper C: no better than none (overlap), time +300%
const rowsC = [
  row('C', 'none', 0.5, [40, 60]), row('C', 'paper', 0.55, [35, 55], { time: 3 }), row('C', 'baseline', 0.3, [65, 70]),
  row('C', 'tmr-bits', 0.98, [0, 2]), row('C', 'ranger', 0.97, [0.5, 3]),
];

test('paper claims: holds, does not hold and undecided follow the 95% intervals', () => {
  const claims = paperClaims([...rowsB, ...rowsC]);
  const verdict = (paper: string, part: string) => claims.find((c) => c.paper === paper && c.claim.includes(part))?.holds;
  assert.equal(verdict('B', 'over 60%'), true);
  assert.equal(verdict('B', 'random selection'), null, 'intervals [15, 25] and [20, 30] overlap');
  assert.equal(verdict('B', 'better than tmr-bits'), false);
  assert.equal(verdict('B', 'better than ranger'), true);
  assert.equal(verdict('C', 'improves robustness'), null);
  assert.equal(verdict('C', 'random selection'), true);
  assert.equal(verdict('C', 'small increase in execution time'), false);
  // a 50% gain is not "over 60%" even when decided
  const small = paperClaims([row('B', 'none', 0.5, [45, 55]), row('B', 'paper', 0.75, [20, 30]), ...rowsB.slice(2)]);
  assert.equal(small.find((c) => c.claim.includes('over 60%'))!.holds, false);
  assert.match(small.find((c) => c.claim.includes('over 60%'))!.evidence, /improvement 50\.0%/);
  // everything destroyed alike: equal zero-width intervals decide "not better", and 0% vs 0% is no improvement
  const dead = paperClaims([row('B', 'none', 0, [98, 98]), row('B', 'paper', 0, [98, 98]), row('B', 'baseline', 0, [98 + 1e-13, 98 + 2e-13]), ...rowsB.slice(3)]);
  assert.equal(dead.find((c) => c.claim.includes('over 60%'))!.holds, false);
  assert.match(dead.find((c) => c.claim.includes('over 60%'))!.evidence, /improvement 0\.0%/);
  assert.equal(dead.find((c) => c.claim.includes('random selection'))!.holds, false);
});

const doc = (): PaperConventions => ({ kind: PAPER_CONVENTIONS_KIND, images: 2000, seed: 1, minTrials: 10, maxTrials: 40, rows: [...rowsB, ...rowsC], claims: paperClaims([...rowsB, ...rowsC]) });

test('paper conventions JSON: read back equal; a damaged field is named', () => {
  const d = doc();
  assert.deepEqual(readPaperConventions(JSON.parse(JSON.stringify(d))), d);
  const bad = JSON.parse(JSON.stringify(d));
  bad.rows[3].ci95 = [1];
  assert.throws(() => readPaperConventions(bad), (e: unknown) => e instanceof FieldError && e.field === 'rows[3].ci95');
  const role = JSON.parse(JSON.stringify(d));
  role.rows[0].role = 'best';
  assert.throws(() => readPaperConventions(role), (e: unknown) => e instanceof FieldError && e.field === 'rows[0].role');
});

test('the report shows the paper-conventions table and its verdicts; a damaged file is one sentence', () => {
  const data = buildReportData({ inputs: [{ name: 'papers', data: doc() }] });
  assert.equal(data.papers.length, 1);
  const { html } = reportHtml(data);
  assert.match(html, /id="papers"/);
  assert.match(html, /over 60% reliability improvement[^<]*— <b>holds<\/b>/);
  assert.match(html, /better than tmr-bits[^<]*— <b>does not hold<\/b>/);
  const bad = JSON.parse(JSON.stringify(doc()));
  bad.claims[0].holds = 'yes';
  assert.throws(() => buildReportData({ inputs: [{ name: 'papers', data: bad }] }), (e: unknown) => e instanceof FlipguardError && /paper-conventions table.*claims\[0\]\.holds/.test(e.message));
});
