/**
 * The report as one self-contained HTML page: inline CSS, the inlined Vega runtime, the compiled
 * chart specifications as a JSON data block, and tables with units. Works offline (no external
 * address), follows the reader's light/dark preference, and prints on white.
 */
import { OVERHEAD_LABELS, formatOrder, type ChartDef } from './charts.js';
import { fmtBer, fmtBytes, fmtInt, fmtInterval, fmtMs, fmtNum, fmtPct, fmtPp, fmtRatio, fmtSeconds, fmtSi, MISSING, NBSP } from './format.js';
import { KIND_LABELS } from './load.js';
import { OVERHEAD_METRICS, type OverheadMetric } from '../harden/overhead.js';
import type { CampaignRow, ReportData } from './types.js';

/** Escapes text for HTML element content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe to place inside a <script> element. */
export function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** JavaScript source safe inside a <script> element (no closing tag or comment opener). */
function scriptSource(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** Drop threshold (pp) of the "at a glance" table. */
export const GLANCE_THRESHOLD_PP = 1;

/**
 * The largest measured BER up to which every measured BER keeps the drop within `thresholdPp`
 * (using the 95 % interval's upper end, or the mean where there is no interval); null if even the
 * smallest BER exceeds it.
 */
export function toleratedBer(rows: readonly CampaignRow[], thresholdPp = GLANCE_THRESHOLD_PP): number | null {
  let best: number | null = null;
  for (const r of [...rows].sort((a, b) => a.ber - b.ber)) {
    const upper = r.ciHigh ?? r.meanDrop;
    if (upper > thresholdPp) break;
    best = r.ber;
  }
  return best;
}

const CSS = `
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1d2025;--muted:#5b6270;--line:#d9dce1;--soft:#f3f4f6;--accent:#3b6aa0;--warn-bg:#fff6db;--warn-fg:#6b4e00;--hi:#eef4fb}
@media (prefers-color-scheme:dark){:root{--bg:#16181d;--fg:#e4e6ea;--muted:#a3a9b5;--line:#363a43;--soft:#1f2228;--accent:#8fb5e6;--warn-bg:#3a3113;--warn-fg:#f1d98a;--hi:#1d2a3a}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg)}
body{margin:0 auto;max-width:1080px;padding:24px 28px 48px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:20px 0 6px}
p{margin:6px 0}
a{color:var(--accent)}
.meta,figcaption,.note{color:var(--muted);font-size:13px}
nav{margin:12px 0 0;font-size:14px}
nav a{margin-right:14px;white-space:nowrap}
figure{margin:14px 0 22px;padding:12px 14px;border:1px solid var(--line);border-radius:6px;background:var(--bg)}
figure h3{margin:0 0 6px}
.chart{color:var(--fg);overflow-x:auto;min-height:40px}
.chart svg{max-width:100%;height:auto;display:block}
.chart[data-rendered=error]{color:#c0392b}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:0 16px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13.5px;font-variant-numeric:tabular-nums}
p.tcap{color:var(--muted);font-size:13px;margin:14px 0 4px;max-width:80ch}
td.nowrap{white-space:nowrap}
p.tcap{break-after:avoid}
.cmds code{display:block;padding-left:1.4em;text-indent:-1.4em}
.cmds code::before{content:"$ ";color:var(--muted)}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap}
tr.chosen td{background:var(--hi);font-weight:600}
td.best{font-weight:700}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
pre{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:10px 12px;overflow-x:auto;font-size:13px;white-space:pre-wrap;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.warnings{background:var(--warn-bg);color:var(--warn-fg);border-radius:6px;padding:8px 14px;margin:16px 0}
.warnings ul{margin:4px 0;padding-left:20px}
.partial{background:var(--warn-bg);color:var(--warn-fg);border:2px solid currentColor;border-radius:6px;padding:8px 14px;margin:16px 0}
details{margin:6px 0 12px}
summary{cursor:pointer;color:var(--muted);font-size:13.5px}
.scroll{overflow-x:auto}
@media print{
:root{--bg:#ffffff;--fg:#000000;--muted:#444a55;--line:#c8ccd2;--soft:#f1f2f4;--accent:#000000;--warn-bg:#fff6db;--warn-fg:#5a4100;--hi:#eaf1f9}
html,body{background:#fff;color:#000}
body{max-width:none;padding:0;font-size:11pt}
nav{display:none}
h2{break-after:avoid}
figure,table,pre{break-inside:avoid}
figure{border:none;padding:0}
a{color:inherit;text-decoration:none}
.chart{overflow:visible}
.scroll{overflow:visible}
table{font-size:8.5pt}
th,td{padding:2px 6px}
td.num,th.num{white-space:normal}
td.nowrap{white-space:nowrap}
.swatch,tr.chosen td,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.grid2{display:block}
@page{margin:14mm}
}
`;

const RENDER_JS = `(function(){
var root=document.documentElement,charts=JSON.parse(document.getElementById('flipguard-charts').textContent),failed=0;
function fail(el,e){failed++;el.setAttribute('data-rendered','error');el.textContent='This chart could not be drawn ('+(e&&e.message||e)+'); the tables hold the same numbers.';console.error('flipguard report: chart '+el.id+' failed:',e);}
if(typeof vega==='undefined'){root.setAttribute('data-charts','error');console.error('flipguard report: the Vega runtime is missing');return;}
Promise.all(charts.map(function(c){var el=document.getElementById(c.id);if(!el)return Promise.resolve();
try{var view=new vega.View(vega.parse(c.spec),{renderer:'svg',container:el,hover:true});
return view.runAsync().then(function(){el.setAttribute('data-rendered','ok');},function(e){fail(el,e);});}
catch(e){fail(el,e);return Promise.resolve();}})).then(function(){root.setAttribute('data-charts',failed?'error':'ok');});
window.addEventListener('beforeprint',function(){Array.prototype.forEach.call(document.querySelectorAll('details'),function(d){d.open=true;});});
})();`;

function table(head: string[], rows: string[][], opts: { numeric?: number[]; nowrap?: number[]; caption?: string; rowClass?: (i: number) => string } = {}): string {
  const num = new Set(opts.numeric ?? []);
  const nowrap = new Set(opts.nowrap ?? []);
  const cls = (i: number): string => { const c = [num.has(i) ? 'num' : '', nowrap.has(i) ? 'nowrap' : ''].filter(Boolean).join(' '); return c ? ` class="${c}"` : ''; };
  const th = head.map((h, i) => `<th${num.has(i) ? ' class="num"' : ''} scope="col">${h}</th>`).join('');
  const body = rows.map((r, ri) => {
    const rc = opts.rowClass?.(ri);
    return `<tr${rc ? ` class="${rc}"` : ''}>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`;
  }).join('\n');
  return `${opts.caption ? `<p class="tcap">${opts.caption}</p>` : ''}<div class="scroll"><table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function figure(c: ChartDef): string {
  return `<figure><h3>${esc(c.title)}</h3><div class="chart" id="${esc(c.id)}" data-series="${c.series}" role="img" aria-label="${esc(c.title)}"></div><figcaption>${esc(c.caption)}</figcaption></figure>`;
}

function swatch(color: string | undefined): string {
  return color ? `<span class="swatch" style="background:${esc(color)}" aria-hidden="true"></span>` : '';
}

const METRIC_FORMAT: Record<OverheadMetric, (x: number) => string> = {
  parameters: (x) => fmtInt(x),
  storedBytes: (x) => fmtBytes(x),
  macs: (x) => fmtSi(x, 'MAC'),
  time: (x) => fmtSeconds(x),
};

const METRIC_NAMES: Record<OverheadMetric, string> = { parameters: 'parameters', storedBytes: 'stored bytes', macs: 'MACs per image', time: 'inference time' };

/** "2,000 images" when every time overhead records the same image count, else "the evaluation images". */
function timeImages(data: ReportData): string {
  const counts = new Set(data.harden.map((h) => h.overheads.time?.images).filter((x) => x !== undefined));
  return counts.size === 1 ? `${fmtInt([...counts][0])} images` : 'the evaluation images';
}

/** Renders the page. `colors` maps each variant to its chart colour (for table swatches). */
export function renderHtml(data: ReportData, charts: readonly ChartDef[], vegaRuntime: string, colors: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  const sections: [string, string][] = [];
  const byId = new Map(charts.map((c) => [c.id, c]));
  const variantCell = (v: string): string => `${swatch(colors.get(v))}${esc(v)}`;

  // partial merges first: their numbers leave out trials, which every reader must see
  for (const c of data.campaigns.filter((x) => x.partial)) {
    parts.push(`<div class="partial" role="alert"><b>Campaign ${esc(`"${c.variant}"`)} is a partial merge</b>: its statistics leave out missing trials. ${esc(c.partial!)}</div>`);
  }
  // warnings
  if (data.warnings.length) {
    parts.push(`<div class="warnings" role="note"><b>Notes on the inputs</b><ul>${data.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></div>`);
  }

  // campaign
  if (data.campaigns.length) {
    sections.push(['campaign', 'Fault-injection campaigns']);
    const glance = data.campaigns.map((c) => {
      const worst = c.rows.reduce((a, r) => (r.meanDrop > a.meanDrop ? r : a), c.rows[0]);
      const tol = toleratedBer(c.rows);
      return [
        variantCell(c.variant), esc(fmtPct(c.goldenAccuracy)), esc(String(c.rows.length)),
        esc(`${fmtBer(c.rows[0].ber)} … ${fmtBer(c.rows[c.rows.length - 1].ber)}`),
        esc(`${fmtPp(worst.meanDrop)} at ${fmtBer(worst.ber)}`), esc(tol === null ? `none (already above ${GLANCE_THRESHOLD_PP}${NBSP}pp)` : fmtBer(tol)),
        esc(c.seed === null ? MISSING : String(c.seed)),
      ];
    });
    const rows = data.campaigns.flatMap((c) => c.rows.map((r) => [
      variantCell(c.variant), esc(fmtBer(r.ber)), esc(fmtInt(r.trials)), esc(fmtPp(r.meanDrop)), esc(fmtInterval(r.ciLow, r.ciHigh, 'pp')),
      esc(fmtPp(r.stdDrop)), esc(fmtPct(r.meanSdc)), esc(fmtPct(r.meanDue)), esc(fmtPct(r.meanAccuracy)), esc(fmtNum(r.trialsPerSecond, 2)),
    ]));
    parts.push(`<section id="campaign"><h2>Fault-injection campaigns</h2>
<p>Each variant's campaign flips stored parameter bits at the given bit error rate (BER, the probability per stored bit), over independent seeded trials. Drops are in percentage points (pp) of top-1 accuracy; SDC and DUE rates are shares of the evaluated images.</p>
${table(['variant', 'golden accuracy', 'BERs', 'BER range', 'worst mean drop', `highest BER with drop ≤ ${GLANCE_THRESHOLD_PP}${NBSP}pp`, 'seed'], glance, { numeric: [1, 2], nowrap: [0, 3, 4, 5], caption: `At a glance. "Highest BER with drop ≤ ${GLANCE_THRESHOLD_PP} pp": the largest measured BER up to which the 95 % interval's upper end (the mean, with one trial) stays within ${GLANCE_THRESHOLD_PP} pp at every measured BER.` })}
${byId.has('chart-drop') ? figure(byId.get('chart-drop')!) : ''}
<div class="grid2">${byId.has('chart-sdc') ? figure(byId.get('chart-sdc')!) : ''}${byId.has('chart-due') ? figure(byId.get('chart-due')!) : ''}</div>
${table(['variant', 'BER', 'trials', 'mean drop', '95 % CI of mean drop', 'std of drop', 'SDC rate', 'DUE rate', 'mean accuracy', 'trials/s'], rows, { numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9], nowrap: [0, 1, 4], caption: 'Per-BER statistics (95 % CI: Student t with n − 1 degrees of freedom; trials/s: trials per second of trial wall time).' })}
</section>`);
  }

  // number formats
  if (data.formats.length) {
    sections.push(['formats', 'Number formats']);
    const order = formatOrder(data);
    const series = [...data.formats].sort((a, b) => order.indexOf(a.format) - order.indexOf(b.format) || (a.variant === 'none' ? -1 : b.variant === 'none' ? 1 : 0));
    const bers = [...new Set(series.flatMap((f) => f.rows.map((r) => r.ber)))].sort((a, b) => a - b);
    const dropAt = (f: (typeof series)[number], ber: number): string => {
      const r = f.rows.find((x) => x.ber === ber);
      return r ? `${fmtNum(r.meanDrop, 2)}${r.ciLow === null || r.ciHigh === null ? '' : ` [${fmtNum(r.ciLow, 2)}, ${fmtNum(r.ciHigh, 2)}]`}` : MISSING;
    };
    const rows = series.map((f) => [esc(f.format), esc(f.variant === 'none' ? 'none (unprotected)' : f.variant), esc(fmtInt(f.bits)), esc(fmtPct(f.goldenAccuracy)), ...bers.map((b) => esc(dropAt(f, b)))]);
    const protectedRows = series.filter((f) => f.variant !== 'none').map((f) => {
      const base = series.find((x) => x.format === f.format && x.variant === 'none');
      return [esc(f.format), esc(f.variant), ...bers.map((b) => {
        const r = f.rows.find((x) => x.ber === b), r0 = base?.rows.find((x) => x.ber === b);
        return esc(r && r0 ? fmtPp(r0.meanDrop - r.meanDrop) : MISSING);
      })];
    });
    parts.push(`<section id="formats"><h2>Number formats</h2>
<p>The same model stored as ${esc(order.join(', '))}: a flip hits one stored word of the format (float16 bits 0–9 mantissa, 10–14 exponent, 15 sign; bfloat16 0–6, 7–14, 15; int8 two's complement, bit 7 the sign; quantization scales and zero points included). BER is per stored bit, so a format with fewer bits per parameter also receives fewer faults at the same BER.</p>
${byId.has('chart-formats') ? figure(byId.get('chart-formats')!) : ''}
${table(['format', 'protection', 'stored bits', 'golden accuracy', ...bers.map((b) => `drop at ${fmtBer(b)} (pp)`)], rows, { numeric: [2, 3, ...bers.map((_, i) => 4 + i)], nowrap: [0, 1], caption: 'Mean accuracy drop in percentage points with its 95 % interval (Student t) per BER.' })}
${protectedRows.length ? table(['format', 'protection', ...bers.map((b) => `drop saved at ${fmtBer(b)}`)], protectedRows, { numeric: bers.map((_, i) => 2 + i), nowrap: [0, 1], caption: 'What each hardening method buys in each format: the unprotected drop minus the protected drop, percentage points (higher is better).' }) : ''}
</section>`);
  }

  // overheads
  if (data.harden.length) {
    sections.push(['overheads', 'Hardening overheads']);
    const metrics = OVERHEAD_METRICS.filter((m) => data.harden.some((h) => h.overheads[m]));
    const body = data.harden.map((h) => {
      const ms = metrics.filter((m) => h.overheads[m]);
      return ms.map((m, i) => {
        const o = h.overheads[m]!;
        const f = METRIC_FORMAT[m];
        const lead = i === 0 ? `<td class="nowrap" rowspan="${ms.length}">${variantCell(h.variant)}</td><td rowspan="${ms.length}">${esc(h.method)}</td><td class="num" rowspan="${ms.length}">${esc(fmtPct(h.ratio, 1))}</td>` : '';
        return `<tr>${lead}<td>${esc(METRIC_NAMES[m])}</td><td class="num">${esc(f(o.original))}</td><td class="num">${esc(f(o.hardened))}</td><td class="num"><b>${esc(fmtRatio(o.ratio))}</b></td></tr>`;
      }).join('\n');
    }).join('\n');
    parts.push(`<section id="overheads"><h2>Hardening overheads</h2>
${byId.has('chart-overheads') ? figure(byId.get('chart-overheads')!) : ''}
<p class="tcap">Costs of each hardened variant and their ratio hardened ÷ original. MACs: multiply-accumulates per image; inference time: one pass over ${esc(timeImages(data))} (median of the timed passes the harden command made).</p>
<div class="scroll"><table class="overheads"><thead><tr><th scope="col">variant</th><th scope="col">method</th><th class="num" scope="col">units hardened</th><th scope="col">cost</th><th class="num" scope="col">original</th><th class="num" scope="col">hardened</th><th class="num" scope="col">ratio</th></tr></thead><tbody>
${body}
</tbody></table></div>
</section>`);
  }

  // Pareto view
  if (data.pareto) {
    const pv = data.pareto;
    sections.push(['pareto', 'Choosing the protection']);
    const pct = (x: number): string => `${x >= 0 ? '+' : ''}${fmtPct(x, 1)}`;
    const rows = pv.rows.map((r) => [
      variantCell(r.variant), esc(fmtNum(r.drop, 3)), esc(r.ciLow === null || r.ciHigh === null ? MISSING : `[${fmtNum(r.ciLow, 3)}, ${fmtNum(r.ciHigh, 3)}]`),
      esc(pct(r.memory)), esc(pct(r.time)), r.front ? '<b>Pareto front</b>' : esc(`dominated by ${r.dominatedBy.join(', ')}${r.clearly ? '' : ' (within the 95 % intervals)'}`),
    ]);
    parts.push(`<section id="pareto"><h2>Choosing the protection</h2>
<p>Each variant at BER ${esc(fmtBer(pv.ber))}: its accuracy drop against what it costs. A variant is dominated when another one is no worse on drop, memory and time and better on one of them (by the mean drop; "within the 95 % intervals" flags a domination the trials do not establish).</p>
${['memory', 'time'].map((c) => byId.get(`chart-pareto-${c}`)).filter((c): c is ChartDef => !!c).map(figure).join('\n')}
${table(['variant', 'drop (pp)', '95 % CI (pp)', 'memory', 'time', 'verdict'], rows, { numeric: [1, 3, 4], caption: 'Memory: stored bytes, time: inference time per pass, both hardened ÷ original − 1 (a campaign without a harden report counts as unprotected, no overhead).' })}
</section>`);
  }

  // bit-position profiles
  if (data.bitProfiles.length) {
    sections.push(['bits', 'Which bits matter']);
    const blocks = data.bitProfiles.map((p, i) => {
      const c = byId.get(`chart-bits-${i}`);
      const top = [...p.rows].sort((a, b) => b.drop - a.drop).slice(0, 5);
      return `${c ? figure(c) : ''}${table(['bit', 'field', 'drop (pp)', '95 % CI (pp)', 'SDC', 'DUE'], top.map((r) => [esc(r.bit), esc(r.field), esc(fmtNum(r.drop, 3)), esc(`[${fmtNum(r.ci95[0], 3)}, ${fmtNum(r.ci95[1], 3)}]`), esc(fmtPct(r.sdc, 1)), esc(fmtPct(r.due, 1))]), { numeric: [0, 2, 4, 5], caption: `The five most damaging bit positions (${esc(p.source)}).` })}`;
    });
    parts.push(`<section id="bits"><h2>Which bits matter</h2><p>The accuracy drop when flips hit one bit position of the weights: where the damage comes from, and so which bits critical-bit TMR (harden --method tmr-bits --bits …) should store three times.</p>${blocks.join('\n')}</section>`);
  }

  // the papers at their own conventions
  if (data.papers.length) {
    sections.push(['papers', 'The papers at their own conventions']);
    const verdict = (h: boolean | null): string => (h === true ? 'holds' : h === false ? 'does not hold' : 'undecided (intervals overlap)');
    const blocks = data.papers.map((p) => {
      const rows = p.rows.map((r) => [esc(r.paper), esc(r.model), esc(r.variant), esc(r.ratio === null ? '–' : fmtNum(r.ratio, 4)), esc(fmtPct(r.memory, 2)), esc(fmtPct(r.time, 0)), esc(fmtBer(r.ber)), esc(r.count), esc(r.trials), esc(fmtPct(r.accuracy, 2)), esc(fmtNum(r.drop, 3)), esc(`[${fmtNum(r.ci95[0], 3)}, ${fmtNum(r.ci95[1], 3)}]`)]);
      const claims = p.claims.map((c) => `<li>Paper ${esc(c.paper)}: ${esc(c.claim)} — <b>${esc(verdict(c.holds))}</b>: ${esc(c.evidence)}.</li>`).join('');
      return `${table(['paper', 'model', 'variant', 'ratio', 'memory', 'time', 'BER', 'count', 'trials', 'accuracy', 'drop (pp)', '95 % CI (pp)'], rows, { numeric: [3, 4, 5, 8, 9, 10], caption: `${esc(p.images)} test images per trial, seed ${esc(p.seed)}, ${esc(p.minTrials)}–${esc(p.maxTrials)} trials (more where compared intervals overlapped). Memory: stored bytes, time: inference time per pass, hardened ÷ original − 1 (${esc(p.source)}).` })}<ul>${claims}</ul>`;
    });
    parts.push(`<section id="papers"><h2>The papers at their own conventions</h2><p>Paper B's selective weight TMR and paper C's neuron TMR with their own selection, fault count and BERs, against critical-bit TMR and range intervals at equal or lower memory and against the same redundancy placed at random; each claim is judged by the 95 % intervals of the mean drop.</p>${blocks.join('\n')}</section>`);
  }

  // scores
  if (data.scores.length) {
    sections.push(['vulnerability', 'Per-layer vulnerability']);
    const blocks = data.scores.map((s, i) => {
      const c = byId.get(`chart-scores-${i}`);
      const rows = s.layers.map((l) => [esc(l.name), esc(l.op), esc(`${fmtInt(l.units)} ${l.unit}${l.units === 1 ? '' : 's'}`), esc(fmtNum(l.max, 4)), esc(fmtInt(l.argmax)), esc(fmtNum(l.mean, 4)), esc(fmtPct(l.share, 1))]);
      return `${c ? figure(c) : ''}<details><summary>Per-layer table (${esc(s.method)}, ${s.layers.length} layers)</summary>${table(['layer', 'op', 'units', 'largest score', 'at unit', 'mean score', 'share of Σ|score|'], rows, { numeric: [2, 3, 4, 5, 6] })}</details>`;
    });
    parts.push(`<section id="vulnerability"><h2>Per-layer vulnerability</h2><p>Importance scores rank the units (channels, neurons or weights) whose faults hurt most; scores are unitless and comparable within one method only.</p>${blocks.join('\n')}</section>`);
  }

  // compare
  if (data.compare.length) {
    sections.push(['ranking', 'Ranking vs ground truth']);
    const blocks = data.compare.map((c) => {
      const best = (f: (r: (typeof c.rows)[number]) => number): number => Math.max(...c.rows.map(f));
      const bs = best((r) => r.spearman), bk = best((r) => r.kendall), bt = best((r) => r.topkOverlap);
      const cell = (v: string, isBest: boolean): string => (isBest ? `<b>${v}</b>` : v);
      const rows = c.rows.map((r) => [esc(r.method) + (r.constant ? ' <span class="note">(constant scores: correlations undefined, shown as 0)</span>' : ''), cell(esc(fmtNum(r.spearman)), r.spearman === bs), cell(esc(fmtNum(r.kendall)), r.kendall === bk), cell(esc(fmtPct(r.topkOverlap, 1)), r.topkOverlap === bt)]);
      return table(['method', 'Spearman ρ', 'Kendall τ', `top-${c.k ?? 'k'} overlap`], rows, {
        numeric: [1, 2, 3],
        caption: `Layer ${esc(c.layer)}${c.op ? ` (${esc(c.op)}${c.unit ? `, per ${esc(c.unit)}` : ''})` : ''}, ground truth from fault injection at BER ${esc(fmtBer(c.ber))}${c.trials ? ` with ${esc(String(c.trials))} trials per unit` : ''} (${esc(c.source)}). Correlations in [−1, 1]; overlap: share of the ground truth's top-${c.k ?? 'k'} units also in the method's top-${c.k ?? 'k'}; best in bold.`,
      });
    });
    parts.push(`<section id="ranking"><h2>Ranking vs ground truth</h2>${blocks.join('\n')}</section>`);
  }

  // prune
  if (data.prune.length) {
    sections.push(['pruning', 'Pruning']);
    const blocks = data.prune.map((p) => {
      const isChosen = (e: (typeof p.explored)[number]): boolean => p.chosen !== null && p.chosen.pConv === e.pConv && p.chosen.pFc === e.pFc;
      const withStatus = p.explored.some((e) => e.status !== undefined);
      const rows = p.explored.map((e) => [
        esc(fmtPct(e.pConv, 1)), esc(fmtPct(e.pFc, 1)), esc(fmtPct(e.accuracy)), esc(fmtInt(e.parameters)), esc(fmtSi(e.macs, 'MAC')), esc(fmtMs(e.timeMs)),
        e.accepted === null ? MISSING : e.accepted ? 'yes' : 'no', ...(withStatus ? [esc(e.status ?? MISSING)] : []), isChosen(e) ? '◀ chosen' : '',
      ]);
      const chosen = p.chosen ? `chosen: ${fmtPct(p.chosen.pConv, 1)} of conv channels and ${fmtPct(p.chosen.pFc, 1)} of dense neurons pruned, accuracy ${fmtPct(p.chosen.accuracy)}` : 'no point was chosen';
      const threshold = p.threshold !== undefined ? `; accepted: accuracy drop ≤ ${fmtNum(p.threshold, 2)} accuracy points` : '';
      const o = p.outcome;
      const outcome = o ? table(['', 'before', 'after', 'after ÷ before'], [
        ['accuracy', esc(fmtPct(o.accuracyBefore)), esc(fmtPct(o.accuracyAfter)), MISSING],
        ['parameters', esc(fmtInt(o.parameters.before)), esc(fmtInt(o.parameters.after)), esc(fmtRatio(o.parameters.ratio, 3))],
        ...(o.storedBytes ? [['stored bytes', esc(fmtBytes(o.storedBytes.before)), esc(fmtBytes(o.storedBytes.after)), esc(fmtRatio(o.storedBytes.ratio, 3))]] : []),
        ['MACs per image', esc(fmtSi(o.macs.before, 'MAC')), esc(fmtSi(o.macs.after, 'MAC')), esc(fmtRatio(o.macs.ratio, 3))],
        ...(o.timeMs ? [['time per inference pass', esc(fmtMs(o.timeMs.before)), esc(fmtMs(o.timeMs.after)), esc(fmtRatio(o.timeMs.ratio, 3))]] : []),
      ], { numeric: [1, 2, 3], caption: `${p.variant ? `${esc(p.variant)}: ` : ''}the pruned model against the original (${esc(p.source)}).` }) : '';
      return outcome + table(['conv pruned', 'dense pruned', 'accuracy', 'parameters', 'MACs per image', 'time', 'accepted', ...(withStatus ? ['status'] : []), ''], rows, {
        numeric: [0, 1, 2, 3, 4, 5],
        caption: `${p.variant ? `${esc(p.variant)}: ` : ''}explored pruning ratios (${esc(p.source)}); ${esc(chosen)}${esc(threshold)}. Time: milliseconds the prune command recorded for the point (for a search, pruning, fine-tuning and evaluating it).`,
        rowClass: (i) => (isChosen(p.explored[i]) ? 'chosen' : ''),
      });
    });
    parts.push(`<section id="pruning"><h2>Pruning</h2>${blocks.join('\n')}</section>`);
  }

  // provenance
  sections.push(['provenance', 'Provenance']);
  const pv = data.provenance;
  const commands = pv.commands.length
    ? `<pre class="cmds">${pv.commands.map((c) => `<code>${esc(c)}</code>`).join('')}</pre>`
    : '<p class="note">No commands were recorded: pass them as provenance.commands (the flipguard CLI passes its own command line) or give a provenance file.</p>';
  const seedRows = data.campaigns.filter((c) => c.seed !== null).map((c) => [variantCell(c.variant), esc(String(c.seed)), esc(c.source)]);
  const seeds = [
    pv.seeds.length ? `<pre><code>${esc(pv.seeds.map((s) => JSON.stringify(s)).join('\n'))}</code></pre>` : '',
    seedRows.length ? table(['variant', 'campaign seed', 'from'], seedRows, { numeric: [1] }) : '',
  ].join('') || '<p class="note">No seeds were recorded.</p>';
  const kv = (o: Record<string, unknown>): string => table(['item', 'value'], Object.entries(o).map(([k, v]) => [esc(k), esc(typeof v === 'string' ? v : JSON.stringify(v))]));
  const m = pv.machine;
  const machineRows = { OS: m.os, platform: `${m.platform} (${m.arch})`, CPU: m.cpu, cores: String(m.cores), memory: `${m.memoryGiB}${NBSP}GiB` };
  const recorded = pv.recorded.filter((r) => r.versions || r.machine).map((r) =>
    `<h3>As recorded in ${esc(r.source)}</h3>${r.versions ? kv(r.versions) : ''}${r.machine ? kv(r.machine) : ''}`).join('');
  const configs = data.campaigns.filter((c) => c.config).map((c) =>
    `<details><summary>Campaign configuration of ${esc(c.variant)}</summary><pre><code>${esc(JSON.stringify(c.config, null, 2))}</code></pre></details>`).join('');
  const variantOf = new Map<string, string>();
  for (const v of [...data.campaigns, ...data.harden]) {
    const prev = variantOf.get(v.source);
    if (prev === undefined) variantOf.set(v.source, v.variant);
    else if (!prev.split(', ').includes(v.variant)) variantOf.set(v.source, `${prev}, ${v.variant}`);
  }
  const inputs = table(['file', 'kind', 'variant'], data.inputs.map((i) => [esc(i.source), esc(KIND_LABELS[i.kind]), esc(variantOf.get(i.source) ?? MISSING)]));
  parts.push(`<section id="provenance"><h2>Provenance</h2>
<h3>Commands</h3>${commands}
<h3>Seeds</h3>${seeds}
<h3>Versions</h3>${kv(pv.versions)}
<h3>Machine</h3>${kv(machineRows)}
${recorded}
<h3>Inputs</h3>${inputs}${configs}
</section>`);

  const nav = sections.map(([id, label]) => `<a href="#${id}">${esc(label)}</a>`).join('');
  const generated = data.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  const chartData = charts.map((c) => ({ id: c.id, spec: c.vega }));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="flipguard ${esc(pv.versions.flipguard ?? '')}">
<title>${esc(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(data.title)}</h1>
<p class="meta">Generated ${esc(generated)} by flipguard ${esc(pv.versions.flipguard ?? '')} from ${data.inputs.length} input${data.inputs.length === 1 ? '' : 's'}.</p>
<nav aria-label="Sections">${nav}</nav>
<noscript><p class="note">The charts need JavaScript; the tables hold the same numbers.</p></noscript>
</header>
<main>
${parts.join('\n')}
</main>
<script type="application/json" id="flipguard-charts">${scriptJson(chartData)}</script>
<script>${scriptSource(vegaRuntime)}</script>
<script>${RENDER_JS}</script>
</body>
</html>
`;
}
