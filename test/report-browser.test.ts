/**
 * The generated report in a real browser: headless Chromium driven by playwright-core.
 * The browser is FLIPGUARD_CHROMIUM if set, else Debian's /usr/bin/chromium when installed, else the
 * headless Chromium that the @sparticuz/chromium dev dependency ships inside its npm tarball
 * (unpacked to <os tmpdir>/chromium on first use), so `npm ci && npm test` needs nothing installed by hand.
 * Screenshots go to $FLIPGUARD_TEST_ARTIFACTS or <os tmpdir>/test-artifacts/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { writeReport, type WriteReportResult } from '../src/report/index.js';
import { sampleFormats, writeSampleInputs } from './fixtures/report-sample.js';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/** The Chromium binary to drive: an explicit one, the system's, or the npm-shipped headless shell. */
async function chromiumPath(): Promise<string> {
  if (process.env.FLIPGUARD_CHROMIUM) return process.env.FLIPGUARD_CHROMIUM;
  if (existsSync(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM;
  const shipped = (await import('@sparticuz/chromium')).default;
  return shipped.executablePath();
}
const ARTIFACTS = process.env.FLIPGUARD_TEST_ARTIFACTS ?? join(tmpdir(), 'test-artifacts');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let work = '';
let report: WriteReportResult;
let context: BrowserContext | undefined;
let page: Page;
const consoleErrors: string[] = [];
const pageErrors: string[] = [];
const requests: string[] = [];

before(async () => {
  const CHROMIUM = await chromiumPath();
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}: run "npm install" in the flipguard folder (the @sparticuz/chromium dev dependency ships one), or set FLIPGUARD_CHROMIUM to a Chromium binary; never "npx playwright install".`);
  }
  work = mkdtempSync(join(tmpdir(), 'flipguard-report-browser-'));
  // synthetic inputs: 3 campaign variants × 5 BERs, scores, 3 harden reports, compare, prune, provenance
  const inputs = writeSampleInputs(join(work, 'run'), 20);
  report = writeReport({ inputs, outDir: join(work, 'flipguard-report'), title: 'LeNet-5 under bit flips', provenance: { commands: ['flipguard report run/'] } });
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1200, height: 900 }, colorScheme: 'light',
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(report.html).href);
  await page.waitForSelector('html[data-charts]', { timeout: 20000 });
});

after(async () => {
  await context?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('all charts render to SVG without console errors, page errors or network requests', async () => {
  assert.equal(await page.getAttribute('html', 'data-charts'), 'ok');
  const charts = await page.$$eval('.chart', (els) => els.map((e) => ({ id: e.id, rendered: e.getAttribute('data-rendered'), svgChildren: e.querySelector('svg')?.querySelectorAll('*').length ?? 0, width: e.querySelector('svg')?.getBoundingClientRect().width ?? 0 })));
  assert.deepEqual(charts.map((c) => c.id), ['chart-drop', 'chart-sdc', 'chart-due', 'chart-overheads', 'chart-pareto-memory', 'chart-pareto-time', 'chart-bits-0', 'chart-scores-0']);
  for (const c of charts) {
    assert.equal(c.rendered, 'ok', c.id);
    assert.ok(c.svgChildren > 20, `${c.id} has an almost empty <svg> (${c.svgChildren} elements)`);
    assert.ok(c.width > 200, `${c.id} is ${c.width}px wide`);
  }
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(requests, [], 'the report must not load anything from outside its file');
});

test('campaign charts show one line, band and legend entry per variant, with the same colours', async () => {
  const variants = report.data.campaigns.map((c) => c.variant);
  assert.equal(variants.length, 3);
  const colours: Record<string, string[]> = {};
  for (const id of ['chart-drop', 'chart-sdc', 'chart-due']) {
    const info = await page.$eval(`#${id}`, (el) => ({
      lines: [...el.querySelectorAll('.mean_marks path')].map((p) => p.getAttribute('stroke') ?? ''),
      bands: el.querySelectorAll('.band_marks path').length,
      points: el.querySelectorAll('.points_marks path').length,
      legend: [...el.querySelectorAll('.role-legend-label text')].map((t) => t.textContent ?? ''),
    }));
    assert.equal(info.lines.length, 3, `${id}: one line per variant`);
    assert.equal(new Set(info.lines).size, 3, `${id}: distinct line colours`);
    assert.deepEqual(info.legend, variants, `${id}: legend entries`);
    assert.equal(info.points, 15, `${id}: one point per variant × BER`);
    if (id !== 'chart-due') assert.equal(info.bands, 3, `${id}: one 95 % band per variant`);
    colours[id] = info.lines;
  }
  assert.deepEqual(colours['chart-sdc'], colours['chart-drop']);
  assert.deepEqual(colours['chart-due'], colours['chart-drop']);
  // BER axis is logarithmic with one tick per measured BER
  const ticks = await page.$$eval('#chart-drop .role-axis-label text', (ts) => ts.map((t) => t.textContent));
  for (const label of ['1e-7', '1e-6', '1e-5', '1e-4', '1e-3']) assert.ok(ticks.includes(label), `tick ${label} in ${ticks.join(' ')}`);
});

test('overhead bars: one group entry per hardened variant, one bar per variant × metric', async () => {
  const info = await page.$eval('#chart-overheads', (el) => ({
    bars: [...el.querySelectorAll('.bars_marks path')].map((p) => p.getAttribute('fill') ?? ''),
    legend: [...el.querySelectorAll('.role-legend-label text')].map((t) => t.textContent ?? ''),
    metrics: [...el.querySelectorAll('.role-axis-label text')].map((t) => t.textContent ?? ''),
  }));
  assert.deepEqual(info.legend, report.data.harden.map((h) => h.variant));
  assert.equal(info.bars.length, 3 * 4);
  assert.equal(new Set(info.bars).size, 3);
  for (const m of ['parameters', 'stored bytes', 'MACs', 'time']) assert.ok(info.metrics.includes(m), m);
  // a hardened variant that also ran a campaign keeps its campaign colour
  const dropColours = await page.$$eval('#chart-drop .mean_marks path', (ps) => ps.map((p) => p.getAttribute('stroke')));
  const tmr10Bar = await page.$eval('#chart-overheads', (el) => {
    const p = [...el.querySelectorAll('.bars_marks path')].find((x) => (x.getAttribute('aria-label') ?? '').includes('lenet5-tmr10'));
    return p?.getAttribute('fill') ?? null;
  });
  assert.equal(tmr10Bar, dropColours[1]);
});

test('heat strip: one row per layer, one cell per unit', async () => {
  const s = report.data.scores[0];
  const info = await page.$eval('#chart-scores-0', (el) => ({
    outlines: el.querySelectorAll('.outline_marks path').length,
    cells: el.querySelectorAll('.cells_marks path').length,
    shares: el.querySelectorAll('.shares_marks path').length,
    rows: [...el.querySelectorAll('.role-axis-label text')].map((t) => t.textContent ?? ''),
  }));
  assert.equal(info.outlines, s.layers.length);
  assert.equal(info.shares, s.layers.length);
  assert.equal(info.cells, s.layers.reduce((a, l) => a + l.units, 0));
  for (const l of s.layers) assert.ok(info.rows.some((r) => r.startsWith(l.name)), `row for ${l.name}`);
});

test('tables carry units; the page is self-contained', async () => {
  const text = await page.innerText('main');
  assert.match(text, /\d\.\d\d\u00a0pp/);
  assert.match(text, /\d\.\d\d\u00a0%/);
  assert.match(text, /\d×/);
  assert.match(text, /\d\u00a0ms/);
  const html = readFileSync(report.html, 'utf8');
  const external = html.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>)]*/gi)?.filter((u) => !/^(https?:)?\/\/www\.w3\.org\//.test(u)) ?? [];
  assert.deepEqual([...new Set(external)].filter((u) => u.startsWith('http')), []);
  assert.doesNotMatch(html, /<(script|link|img|iframe)[^>]+(src|href)=/i);
});

test('screenshots in light, dark and print; dark mode switches chart ink', async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const inkOf = (): Promise<{ label: string; bg: string }> => page.evaluate(() => {
    const t = document.querySelector('#chart-drop .role-axis-label text');
    return { label: t ? getComputedStyle(t).fill : '', bg: getComputedStyle(document.documentElement).backgroundColor };
  });
  const light = await inkOf();
  await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await inkOf();
  await page.screenshot({ path: join(ARTIFACTS, 'report-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark', media: 'print' });
  const print = await inkOf();
  await page.screenshot({ path: join(ARTIFACTS, 'report-print.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light', media: 'screen' });
  const lum = (rgb: string): number => { const [r, g, b] = (rgb.match(/\d+/g) ?? ['0', '0', '0']).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  assert.ok(lum(light.bg) > 200 && lum(light.label) < 80, `light: ${JSON.stringify(light)}`);
  assert.ok(lum(dark.bg) < 40 && lum(dark.label) > 180, `dark: ${JSON.stringify(dark)}`);
  assert.ok(lum(print.bg) > 200 && lum(print.label) < 80, `print (dark preference): ${JSON.stringify(print)}`);
  for (const f of ['report.png', 'report-dark.png', 'report-print.png']) assert.ok(existsSync(join(ARTIFACTS, f)), f);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(pageErrors, []);
});

test('Number formats section: one line per format and protection, the table of drops per BER, what protection buys', async () => {
  const dir = join(work, 'formats');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'lenet5.formats.json');
  const sample = sampleFormats(20);
  writeFileSync(file, JSON.stringify(sample));
  const r = writeReport({ inputs: [file], outDir: join(dir, 'report'), title: 'LeNet-5 per format' });
  const p = await context!.newPage();
  const errors: string[] = [];
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  p.on('pageerror', (e) => errors.push(e.message));
  await p.goto(pathToFileURL(r.html).href);
  await p.waitForSelector('html[data-charts]', { timeout: 20000 });
  assert.equal(await p.getAttribute('html', 'data-charts'), 'ok');
  const info = await p.$eval('#chart-formats', (el) => ({
    rendered: el.getAttribute('data-rendered'),
    lines: [...el.querySelectorAll('.mean_marks path')].map((x) => [x.getAttribute('stroke') ?? '', x.getAttribute('stroke-dasharray') ?? '']),
    legend: [...el.querySelectorAll('.role-legend-label text')].map((t) => t.textContent ?? ''),
  }));
  assert.equal(info.rendered, 'ok');
  assert.equal(info.lines.length, 4, 'one line per format × protection');
  assert.equal(new Set(info.lines.map((l) => l[0])).size, 3, 'one colour per format');
  for (const f of ['float32', 'float16', 'int8', 'none', 'tmr-channels']) assert.ok(info.legend.includes(f), `legend ${f}: ${info.legend.join(', ')}`);
  const int8Lines = info.lines.filter((l) => l[0] === info.lines[2][0]);
  assert.equal(new Set(int8Lines.map((l) => l[1])).size, 2, 'the protected int8 line is dashed differently');
  // the tables: drop per BER for each series, and the drop saved by tmr-channels on int8
  const text = await p.innerText('#formats');
  const base = sample.formats[2].summary.bers.find((b) => b.ber === 1e-4)!;
  const prot = sample.formats[3].summary.bers.find((b) => b.ber === 1e-4)!;
  assert.ok(text.includes(`${base.meanDrop.toFixed(2)} [`), `int8 drop at 1e-4 in ${text}`);
  assert.ok(text.includes(`${(base.meanDrop - prot.meanDrop).toFixed(2)}\u00a0pp`), 'drop saved by tmr-channels');
  assert.match(text, /drop saved at 1e-4/);
  assert.ok(existsSync(join(dir, 'report', 'formats.csv')));
  await p.screenshot({ path: join(ARTIFACTS, 'report-formats.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await p.close();
});
