/**
 * The HTML report in a real browser: Debian's chromium, headless, driven by puppeteer-core. Each report is opened
 * from file:// and must load nothing else, log no error, draw every chart, show the verdict, and be complete with
 * JavaScript off. Plans come from test/helpers/plan-fixture.ts (the demo MobileNetV2's real cuts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedSvg, esc, renderReport } from '../../src/report/html.js';
import { paretoSpec, renderSvg } from '../../src/report/plot.js';
import type { PlanResult } from '../../src/plan/types.js';
import { launchChromium, screenshotReport } from '../../scripts/report-screenshot.mjs';
import { demoAnalysis, ESTIMATED, FEASIBLE, LOWER_IS_BETTER, NOTHING_FEASIBLE, planFixture, type DemoAnalysis } from '../helpers/plan-fixture.js';

let dir: string;
let browser: Browser;
let analysis: DemoAnalysis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'impera-report-'));
  [browser, analysis] = await Promise.all([launchChromium(), demoAnalysis()]);
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  url: string;
  errors: string[];
  requests: string[];
}

/** Writes the page to disk and opens it, recording console errors, uncaught exceptions and every request. */
async function open(name: string, html: string, javaScript = true): Promise<Opened> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, html);
  const url = pathToFileURL(file).href;
  const page = await browser.newPage();
  await page.setJavaScriptEnabled(javaScript);
  await page.setViewport({ width: 1280, height: 900 });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, url, errors, requests };
}

/** SVG elements of data marks, by the role Vega gives them (axes, legends, rules and labels are not counted). */
const DATA_MARKS = ['point', 'bar', 'tick', 'line mark', 'rect mark'].map((r) => `svg [aria-roledescription="${r}"]`).join(', ');

/**
 * Pixels of a chart's plot area that change when its data marks are hidden: what the data draws, whatever its
 * colour. Empty, invisible, zero-sized or off-plot marks give none.
 */
async function drawnPixels(page: Page, figure: ElementHandle): Promise<number> {
  const plotArea = (await figure.$('svg .role-frame > g > path.background'))!;
  const shot = async () => PNG.sync.read(Buffer.from(await plotArea.screenshot())).data;
  const withData = await shot();
  const hidden = await page.addStyleTag({ content: `${DATA_MARKS} { visibility: hidden !important; }` });
  const without = await shot();
  await hidden.evaluate((style) => style.remove());
  let n = 0;
  for (let i = 0; i < withData.length; i += 4) if (withData[i] !== without[i] || withData[i + 1] !== without[i + 1] || withData[i + 2] !== without[i + 2]) n++;
  return n;
}

/** Per chart on the page: its data marks and the pixels they draw in the plot area. */
async function charts(page: Page): Promise<Record<string, { marks: number; pixels: number }>> {
  const out: Record<string, { marks: number; pixels: number }> = {};
  for (const figure of await page.$$('figure.chart')) {
    const [id, marks] = await figure.evaluate((f, selector) => [(f as HTMLElement).dataset.chart!, f.querySelectorAll(selector).length] as const, DATA_MARKS);
    out[id] = { marks, pixels: await drawnPixels(page, figure) };
  }
  return out;
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e as HTMLElement).innerText);

/** Fewer drawn pixels than this in a plot area means (next to) nothing was drawn; an empty plot has none. */
const DRAWN = 500;

describe('the report of a feasible plan', () => {
  let plan: PlanResult;
  let opened: Opened;
  beforeAll(async () => {
    plan = planFixture(analysis, FEASIBLE);
    opened = await open('feasible', await renderReport(plan));
  });

  it('loads nothing but the file itself and logs no error', () => {
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([opened.url]);
  });

  it('draws all six charts with their data', async () => {
    const drawn = await charts(opened.page);
    expect(Object.keys(drawn).sort()).toEqual(['bytes', 'latency', 'pareto', 'rate-quality', 'saliency', 'switching']);
    for (const [id, c] of Object.entries(drawn)) expect(c.pixels, `${id}: drawn pixels`).toBeGreaterThan(DRAWN);
    expect(drawn.saliency!.marks).toBeGreaterThanOrEqual(plan.saliency!.curve.length);
    expect(drawn.bytes!.marks).toBeGreaterThanOrEqual(plan.cuts.length);
    // four stacked segments and a tick per bar: remote, each split cut, local
    const bars = 2 + new Set(plan.configurations.filter((c) => c.placement === 'split').map((c) => c.cuts[0]!.index)).size;
    expect(drawn.latency!.marks).toBe(5 * bars);
    expect(drawn['rate-quality']!.marks).toBeGreaterThanOrEqual(plan.rateQuality.length);
    expect(drawn.pareto!.marks).toBeGreaterThanOrEqual(plan.configurations.length);
    expect(drawn.switching!.marks).toBe(plan.switching!.winners.flat(2).length);
  });

  it('shows the recommendation with its explanation and figures, and highlights it', async () => {
    const box = await text(opened.page, '#recommendation');
    expect(box).toContain(plan.recommendation!.id);
    for (const line of plan.recommendation!.explanation) expect(box).toContain(line);
    expect(box).toMatch(/P95 LATENCY\s+37\.1 ms/i);
    expect(box).toContain(`Runner-up: ${plan.recommendation!.runnerUp}`);
    expect(await opened.page.$$eval('#shortlist tr.chosen', (rows) => rows.map((r) => r.getAttribute('data-id')))).toEqual([plan.recommendation!.id]);
    expect(await opened.page.$$eval('figure[data-chart="pareto"] svg text', (ts) => ts.map((t) => t.textContent))).toContain('recommended');
  });

  it('has no estimate labels when accuracy was measured, and says the metric and the data it was measured on', async () => {
    expect(await opened.page.$('#quality-estimate')).toBeNull();
    const setup = await text(opened.page, '#setup');
    expect(setup).toMatch(/quality metric\s+top-1 accuracy \(accuracy, higher is better\): chosen: test fixture/);
    expect(setup).toMatch(/quality measured on\s+10000 samples of fashion-mnist \(test split\)/);
    expect(setup).toMatch(/full model's top-1 accuracy\s+92\.6 %/);
    expect(await text(opened.page, '#constraints')).toMatch(/top-1 accuracy \(on fashion-mnist \(test split\)\)\s+≥ 90\.0 %/);
  });

  it('gives every element a unique id, so the inline charts do not share clip paths', async () => {
    const ids = await opened.page.$$eval('[id]', (els) => els.map((e) => e.id));
    expect(ids.length).toBeGreaterThan(10);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sorts a table by a clicked column', async () => {
    const bytes = '#all-configurations th:nth-child(8)';
    const column = () => opened.page.$$eval('#all-configurations tbody tr td:nth-child(8)', (cells) => cells.map((c) => Number((c as HTMLElement).dataset.v)));
    expect(await opened.page.$eval(bytes, (th) => th.textContent)).toBe('bytes up');
    await opened.page.click('#all-configurations-details summary');
    await opened.page.click(bytes);
    const ascending = await column();
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    await opened.page.click(bytes);
    const descending = await column();
    expect(descending).toEqual([...ascending].reverse());
    expect(new Set(descending).size).toBeGreaterThan(50);
  });

  it('is complete without JavaScript: charts, verdict and every configuration', async () => {
    const noJs = await open('feasible-nojs', readFileSync(new URL(opened.url), 'utf8'), false);
    expect(noJs.errors).toEqual([]);
    expect(Object.keys(await charts(noJs.page))).toHaveLength(6);
    expect(await text(noJs.page, '#recommendation')).toContain(plan.recommendation!.id);
    expect(await noJs.page.$$eval('#all-configurations tbody tr', (rows) => rows.length)).toBe(plan.configurations.length);
  });
});

describe('the report when nothing is feasible', () => {
  it('shows the nearest miss, the constraint and by how much, and no recommendation', async () => {
    const plan = planFixture(analysis, NOTHING_FEASIBLE);
    const miss = plan.nearestMiss!;
    const { page, errors } = await open('miss', await renderReport(plan));
    expect(errors).toEqual([]);
    expect(await page.$('#recommendation')).toBeNull();
    const box = await text(page, '#nearest-miss');
    expect(box).toContain('NO CONFIGURATION MEETS EVERY CONSTRAINT');
    expect(box).toContain(`${miss.id}: latency is 37.1 ms against a limit of 30.0 ms, short by ${(100 * miss.shortBy).toFixed(1)} %`);
    expect(await text(page, '#constraints')).toMatch(/latency \(p95\)\s+≤ 30\.0 ms\s+37\.1 ms\s+-23\.7 %\s+✗ violated/);
    const drawn = await charts(page);
    expect(Object.keys(drawn)).toHaveLength(6);
    for (const [id, c] of Object.entries(drawn)) expect(c.pixels, `${id}: drawn pixels`).toBeGreaterThan(DRAWN);
    expect(await page.$$eval('figure[data-chart="pareto"] svg text', (ts) => ts.map((t) => t.textContent))).toContain('nearest miss');
  });
});

describe('the report without labelled data or saliency', () => {
  it('labels every accuracy as an estimate and says which charts have no data', async () => {
    const plan = planFixture(analysis, ESTIMATED);
    const { page, errors, requests, url } = await open('estimated', await renderReport(plan));
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
    expect(await text(page, '#quality-estimate')).toMatch(/^top-1 accuracy is estimated, not measured\./);
    expect(await text(page, '#recommendation')).toMatch(/TOP-1 ACCURACY\s+≈90\.6 %\s+estimate not measured/);
    expect(await text(page, '#constraints')).toMatch(/top-1 accuracy \(on the built-in sample\)\s+≥ 90\.0 %\s+≈90\.6 % estimate/);
    const cells = await page.$$eval('#all-configurations tbody td:nth-child(7)', (tds) => tds.map((td) => td.textContent));
    expect(cells).toHaveLength(plan.configurations.length);
    for (const cell of cells) expect(cell).toMatch(/^≈\d+\.\d %$/);
    expect(await page.$$eval('[data-missing-chart]', (ps) => ps.map((p) => (p as HTMLElement).dataset.missingChart))).toEqual(['saliency', 'rate-quality']);
    expect(Object.keys(await charts(page)).sort()).toEqual(['bytes', 'latency', 'pareto', 'switching']);
    expect(await page.$eval('figure[data-chart="pareto"] svg', (s) => s.textContent)).toContain('top-1 accuracy (%), estimated');
  });
});

describe('the report of a plan under a lower-is-better metric', () => {
  it("speaks the metric: its label on the axes, in the tables and sentences, a ceiling as the constraint", async () => {
    const plan = planFixture(analysis, LOWER_IS_BETTER);
    const { page, errors } = await open('lower', await renderReport(plan));
    expect(errors).toEqual([]);
    expect(await text(page, '#constraints')).toMatch(/token error rate \(on fashion-mnist \(test split\)\)\s+≤ 10\.0 %\s+\d+\.\d %/);
    expect(await text(page, '#recommendation')).toMatch(/TOKEN ERROR RATE\s+\d+\.\d %/);
    expect(plan.recommendation!.explanation.join(' ')).toMatch(/token error rate \d+\.\d %/);
    expect(await page.$eval('#all-configurations th:nth-child(7)', (th) => th.textContent)).toBe('token error rate');
    const drawn = await charts(page);
    expect(Object.keys(drawn).sort()).toEqual(['bytes', 'latency', 'pareto', 'rate-quality', 'saliency', 'switching']);
    expect(drawn['rate-quality']!.pixels).toBeGreaterThan(DRAWN);
    for (const chart of ['pareto', 'rate-quality']) expect(await page.$eval(`figure[data-chart="${chart}"] svg`, (s) => s.textContent)).toContain('token error rate (%, lower is better)');
    expect(await text(page, '#chart-rate-quality h2')).toBe('Rate–token error rate');
    // the recommended configuration's error is within the ceiling, and nothing on the front has a larger error at a higher latency than another
    const chosen = plan.configurations.find((c) => c.id === plan.recommendation!.id)!;
    expect(chosen.quality.value).toBeLessThanOrEqual(0.1);
    const front = plan.configurations.filter((c) => plan.pareto.includes(c.id));
    for (const a of front) for (const b of front) expect(a.latency.p95Ms < b.latency.p95Ms && a.quality.value < b.quality.value && a.bytes < b.bytes && (a.energyJ ?? 0) < (b.energyJ ?? 0)).toBe(false);
  });
});

describe('text from the plan', () => {
  it('is escaped everywhere: tensor names, ids, warnings and the scenario name stay text', async () => {
    const plan = planFixture(analysis, FEASIBLE);
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>';
    const config = plan.configurations.find((c) => c.id === plan.recommendation!.id)!;
    const tricky: PlanResult = {
      ...plan,
      scenario: { ...plan.scenario, name: `cam <b>&</b> "server"` },
      configurations: plan.configurations.map((c) => (c === config ? { ...c, cuts: [{ ...c.cuts[0]!, id: 'a/b<c>&d' }] } : c)),
      warnings: [evil],
    };
    const { page, errors, requests, url } = await open('escaped', await renderReport(tricky));
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.evaluate(() => document.scripts.length)).toBe(1);
    expect(await page.$$('#warnings img')).toHaveLength(0);
    expect(await text(page, '#warnings')).toContain(evil);
    expect(await text(page, 'h1')).toBe('impera plan: cam <b>&</b> "server"');
    expect(await text(page, '#recommendation')).toContain('a/b<c>&d');
  });

  it('escapes the five HTML-special characters', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });
});

describe('embedSvg', () => {
  it('scopes ids and their references, and turns mark descriptions into titles', () => {
    const svg = '<svg><clipPath id="clip1"><rect/></clipPath><g clip-path="url(#clip1)"><use href="#clip1"/><path aria-label="id: a&lt;b" role="graphics-symbol" d="M0"/></g></svg>';
    expect(embedSvg(svg, 'pareto')).toBe('<svg><clipPath id="pareto-clip1"><rect/></clipPath><g clip-path="url(#pareto-clip1)"><use href="#pareto-clip1"/><path role="graphics-symbol" d="M0"><title>id: a&lt;b</title></path></g></svg>');
  });
});

describe('the drawn-chart check', () => {
  it('finds nothing drawn on a plot with axes, legends and limit rules but no data', async () => {
    const empty = embedSvg(await renderSvg(paretoSpec('empty', [], { latency: 'p95 latency (ms)', quality: { percent: true, title: 'accuracy (%)' } }, { latencyMs: 100, quality: { value: 0.9, label: '90.0 %' } })), 'empty');
    const { page } = await open('empty-chart', `<!doctype html><meta charset="utf-8"><figure class="chart" data-chart="empty">${empty}</figure>`);
    const { empty: stats } = await charts(page);
    expect(stats!.pixels).toBe(0);
    expect(stats!.marks).toBe(0);
  });
});

describe('screenshotReport', () => {
  it('writes a PNG of a whole report, or of its top, at twice the CSS size', async () => {
    const html = join(dir, 'shot.html');
    writeFileSync(html, await renderReport(planFixture(analysis, FEASIBLE)));
    const [whole, top] = [join(dir, 'whole.png'), join(dir, 'top.png')];
    await screenshotReport(html, whole, { width: 1000 });
    await screenshotReport(html, top, { width: 1000, height: 700 });
    const [a, b] = [whole, top].map((f) => PNG.sync.read(readFileSync(f)));
    expect([a!.width, b!.width, b!.height]).toEqual([2000, 2000, 1400]);
    expect(a!.height).toBeGreaterThan(2 * 4000);
  });
});
