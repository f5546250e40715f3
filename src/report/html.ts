/**
 * The plan as one self-contained HTML page: the verdict first (the recommendation, or the nearest miss), then the
 * set-up, the charts (inline SVG rendered here with Vega-Lite, so the page needs no JavaScript to show them) and
 * every configuration. It loads nothing: a Content-Security-Policy forbids any request, so the file works offline
 * and can be mailed or archived as is. The one inline script only makes the tables sortable.
 */
// recommend.ts and quality.ts are pure functions over plan types: the report stays free of the planner's machinery
import { describeEvaluation, describeStop, formatQuality, qualityAxis } from '../plan/quality.js';
import { chosen } from '../plan/recommend.js';
import type { SwitchingPlan } from '../plan/switching.js';
import type { ConstraintCheck, ConstraintName, PlanConfiguration, PlanQualityFigure, PlanResult } from '../plan/types.js';
import { fmtBytes, fmtCount, fmtMs, fmtShape } from '../util/format.js';
import type { TopLevelSpec } from 'vega-lite';
import { bytesPerCutSpec, curveSpec, latencyBreakdownSpec, paretoSpec, rateAccuracySpec, renderSvg, switchingSpec, type LatencyBar, type ParetoStatus, type SwitchingCell } from './plot.js';

/** Escapes text for HTML content and attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

type LatencyKey = 'meanMs' | 'p50Ms' | 'p95Ms' | 'p99Ms';

/** The latency statistic the QoS constraint is checked at ('p95', 'mean', ...); the mean when none is given. */
function qosLatency(plan: PlanResult): { key: LatencyKey; label: string } {
  const at = plan.scenario.qos.latency?.at ?? 'mean';
  return { key: `${at}Ms`, label: at };
}

const CONSTRAINT_LABELS: Record<Exclude<ConstraintName, 'quality'>, string> = { latency: 'latency', edgeMemory: 'edge memory', energy: 'edge energy per inference', bytes: 'bytes per inference', throughput: 'throughput' };
/** A constraint's name in the report: quality as the plan's metric's label. */
const constraintLabel = (plan: PlanResult, name: ConstraintName): string => (name === 'quality' ? plan.quality.label : CONSTRAINT_LABELS[name]);
/** Whether a constraint is a minimum (value >= limit) rather than a maximum. */
const isMinimum = (plan: PlanResult, name: ConstraintName): boolean => name === 'throughput' || (name === 'quality' && plan.scenario.qos.quality?.bound === 'min');

const fmtMsUnit = (ms: number): string => `${fmtMs(ms)} ms`;
const fmtPct = (share: number, digits = 1): string => `${(100 * share).toFixed(digits)} %`;
const fmtEnergy = (j: number | null): string => (j === null ? 'n/a' : j < 1 ? `${(1000 * j).toFixed(1)} mJ` : `${j.toFixed(2)} J`);
const fmtSize = (bytes: number): string => fmtBytes(Math.round(bytes));

/** A constraint's value in its unit (ms, the plan's metric's, bytes, J, fps). */
function fmtConstraint(plan: PlanResult, name: ConstraintName, value: number): string {
  switch (name) {
    case 'latency':
      return fmtMsUnit(value);
    case 'quality':
      return formatQuality(plan.quality.metric, value);
    case 'edgeMemory':
    case 'bytes':
      return fmtSize(value);
    case 'energy':
      return fmtEnergy(value);
    case 'throughput':
      return `${value.toFixed(1)} fps`;
  }
}

const ESTIMATE_BADGE = '<span class="badge estimate" title="estimated, not measured on labelled data">estimate</span>';

/** A configuration's value for a constraint; an estimated quality says so. */
function valueHtml(plan: PlanResult, name: ConstraintName, value: number, c: PlanConfiguration | undefined): string {
  return name === 'quality' && c?.quality.source === 'estimate' ? `≈${esc(fmtConstraint(plan, name, value))} ${ESTIMATE_BADGE}` : esc(fmtConstraint(plan, name, value));
}

/** Quality in its metric's units: an estimate as ≈, a measurement with its interval on hover. */
function qualityHtml(q: PlanQualityFigure): string {
  if (q.source === 'estimate') return `<span title="estimated, not measured on labelled data">≈${esc(formatQuality(q.metric, q.value))}</span>`;
  const ci = q.ci ? ` title="95 % interval ${esc(formatQuality(q.metric, q.ci[0]))} to ${esc(formatQuality(q.metric, q.ci[1]))}${q.samples ? `, ${q.samples} samples` : ''}${q.stopped ? esc(`; ${describeStop(q.stopped, q.samples)}`) : ''}"` : '';
  return `<span${ci}>${esc(formatQuality(q.metric, q.value))}</span>${q.stopped ? ` <small>n=${esc(q.samples ?? '?')}</small>` : ''}`;
}

function exitsText(c: PlanConfiguration): string {
  if (!c.exits) return '—';
  const early = c.exits.rates.reduce((a, r) => a + r, 0);
  return `${c.exits.policy} τ${c.exits.threshold} · ${fmtPct(early, 0)}`;
}

const cutText = (c: PlanConfiguration): string => (c.cuts.length ? c.cuts.map((k) => `#${k.index}`).join(' → ') : '—');

/** The plan's verdict on each configuration: the chosen one, the Pareto front, feasible, or not. */
function statusOf(plan: PlanResult): (c: PlanConfiguration) => ParetoStatus {
  const pareto = new Set(plan.pareto);
  return (c) => {
    if (c.id === plan.recommendation?.id) return 'recommended';
    if (c.id === plan.nearestMiss?.id) return 'nearest miss';
    if (pareto.has(c.id)) return 'Pareto front';
    return c.feasible ? 'feasible' : 'infeasible';
  };
}

// ---------------------------------------------------------------------------------------------------- charts

/** A chart of the report: its Vega-Lite spec, or null when the plan has no data for it (`missing` says why). */
interface ChartDef {
  id: string;
  title: string;
  caption: string;
  missing: string;
  spec: TopLevelSpec | null;
}

interface Chart extends Omit<ChartDef, 'spec'> {
  svg: string | null;
}

/**
 * Vega's SVG made fit to sit inline beside others: its ids (clip paths, gradients) get the chart's prefix, since
 * every chart numbers them from 1; and each data mark's description (aria-label) becomes its <title>, which is
 * both its accessible name and the browser's own tooltip.
 */
export function embedSvg(svg: string, scope: string): string {
  return svg
    .replace(/\bid="([^"]+)"|url\(#([^)]+)\)|href="#([^"]+)"/g, (m, id?: string, url?: string, href?: string) =>
      id ? `id="${scope}-${id}"` : url ? `url(#${scope}-${url})` : href ? `href="#${scope}-${href}"` : m,
    )
    .replace(/<(\w+) aria-label="([^"]*)" role="graphics-symbol"([^>]*)\/>/g, (m, tag: string, label: string, rest: string) =>
      rest.includes('aria-roledescription="line mark"') ? m : `<${tag} role="graphics-symbol"${rest}><title>${label}</title></${tag}>`,
    );
}

/** Per placement and cut, the fastest configuration (feasible ones first); where the chosen one is, the chosen one. */
function latencyBars(plan: PlanResult, key: LatencyKey, pick: PlanConfiguration | undefined): LatencyBar[] {
  const groups: { label: string; configs: PlanConfiguration[] }[] = [
    { label: 'remote', configs: plan.configurations.filter((c) => c.placement === 'remote') },
    ...plan.cuts.map((cut) => ({ label: `#${cut.index}`, configs: plan.configurations.filter((c) => c.placement === 'split' && c.cuts[0]?.index === cut.index) })),
    { label: 'local', configs: plan.configurations.filter((c) => c.placement === 'local') },
  ];
  return groups
    .filter((g) => g.configs.length > 0)
    .map((g) => {
      const highlight = pick !== undefined && g.configs.includes(pick);
      const shown = highlight ? pick : [...g.configs].sort((a, b) => Number(b.feasible) - Number(a.feasible) || a.latency[key] - b.latency[key])[0]!;
      const b = shown.latency.breakdown;
      return { label: g.label, configuration: shown.id, stages: [b.deviceMs, b.transferMs, b.serverMs, b.queueMs], qosMs: shown.latency[key], highlight };
    });
}

function saliencyChart(plan: PlanResult): ChartDef {
  const s = plan.saliency;
  return {
    id: 'saliency',
    title: 'Saliency along depth (I-SPLIT)',
    caption: s ? `log10 CUI of each candidate layer over ${s.samples} images; local maxima (peaks) are the candidate split points, the global maximum the best.` : '',
    missing: `No saliency pass in this plan: ${plan.saliencySkipped ?? 'the scenario gives no labelled data'}.`,
    spec: s ? curveSpec(`log10 CUI per candidate layer (${s.samples} images)`, 'log10 CUI', s.curve.map((p) => ({ index: p.index, label: p.layer, value: p.log10, ...(p.best ? { mark: 'best' as const } : p.peak ? { mark: 'peak' as const } : {}) }))) : null,
  };
}

function bytesChart(plan: PlanResult): ChartDef {
  const splits = plan.configurations.filter((c) => c.placement === 'split');
  const remote = plan.configurations.filter((c) => c.placement === 'remote' && c.bytes > 0).sort((a, b) => a.bytes - b.bytes)[0];
  const raw = plan.cuts.map((c) => ({ index: c.index, series: 'raw float32', label: `#${c.index} ${c.id} (${c.shapes.map(fmtShape).join(' + ')})`, bytes: c.bytes }));
  const sent = plan.cuts.flatMap((c) => {
    const least = splits.filter((s) => s.cuts[0]?.index === c.index).sort((a, b) => a.bytes - b.bytes)[0];
    return least && least.bytes > 0 ? [{ index: c.index, series: 'sent (smallest codec)', label: least.id, bytes: least.bytes }] : [];
  });
  const references = [{ label: 'input (float32)', value: 4 * plan.model.inputShape.reduce((a, d) => a * d, 1) }, ...(remote ? [{ label: remote.id, value: remote.bytes }] : [])];
  return {
    id: 'bytes',
    title: 'Bytes per cut',
    caption: 'Raw float32 size of each cut tensor along depth, and the fewest bytes actually sent at that cut by any explored codec (expected bytes: samples leaving at an early exit send nothing). Dashed: the input as float32, and the smallest remote encoding.',
    missing: 'No cuts in this plan.',
    spec: plan.cuts.length ? bytesPerCutSpec('Bytes crossing each cut', [...raw, ...sent], references) : null,
  };
}

function latencyChart(plan: PlanResult): ChartDef {
  const { key, label } = qosLatency(plan);
  const pick = chosen(plan);
  const marked = pick ? ` At the cut marked ▼ the bar is the ${plan.recommendation ? 'recommendation' : 'nearest miss'} itself.` : '';
  const chains = plan.configurations.some((c) => c.placement === 'chain') ? ' Chains over several devices are in the tables.' : '';
  return {
    id: 'latency',
    title: 'Latency breakdown per cut',
    caption: `Where the time of one inference goes (expected values): device compute, transfer, server compute and queueing. Each bar is the configuration with the lowest ${label} latency at that placement or cut, feasible ones first; hover a segment for its id.${marked} Black ticks: the ${label} latency the constraint is checked at.${chains}`,
    missing: 'No configurations.',
    spec: plan.configurations.length ? latencyBreakdownSpec(`Latency per inference by placement and cut`, latencyBars(plan, key, pick), { label, limitMs: plan.scenario.qos.latency?.limit ?? null }) : null,
  };
}

function rateQualityChart(plan: PlanResult): ChartDef {
  const q = plan.quality;
  const cutLabel = new Map(plan.cuts.map((c) => [c.id, `#${c.index} ${c.id}`]));
  // an exact configuration's SNR is infinite: it has no place on the axis (nor does the full model's reference)
  const points = plan.rateQuality.filter((p) => Number.isFinite(p.quality));
  const left = plan.rateQuality.length - points.length;
  const stoppedEarly = plan.rateQuality.filter((p) => p.stopped).length;
  const full = Number.isFinite(q.full.value) ? q.full.value : null;
  return {
    id: 'rate-quality',
    title: `Rate–${q.label}`,
    caption: `${q.label} against bytes on the wire for every cut × codec, measured on ${q.samples} samples of ${q.data}${stoppedEarly ? ` (${stoppedEarly} stopped earlier by the adaptive evaluation, on fewer: ${describeEvaluation(q)})` : ''}${full === null ? '' : `; dashed: the full model (${formatQuality(q.metric, full)})`}.${left ? ` ${left} exact configurations (infinite ${q.label}) are not drawn.` : ''}`,
    missing: `No rate–${q.label} measurement: the scenario gives no data, so each codec's ${q.label} was estimated, not measured.`,
    spec: points.length ? rateAccuracySpec(`${q.label} against bytes per sample`, points.map((p) => ({ series: p.codec, label: cutLabel.get(p.cut) ?? p.cut, bytes: p.bytes, accuracy: p.quality })), full, qualityAxis(q)) : null,
  };
}

function paretoChart(plan: PlanResult): ChartDef {
  const { key, label } = qosLatency(plan);
  const status = statusOf(plan);
  const q = plan.quality;
  const sources = new Set(plan.configurations.map((c) => c.quality.source));
  const points = plan.configurations.map((c) => ({ id: c.id, latencyMs: c.latency[key], quality: c.quality.value, bytes: c.bytes, energyJ: c.energyJ, status: status(c), qualitySource: c.quality.source }));
  const axis = qualityAxis(q);
  const axes = { latency: `${label} latency (ms)`, quality: sources.has('measured') ? axis : { ...axis, title: `${axis.title}, estimated` } };
  const bound = plan.scenario.qos.quality;
  const limits = { latencyMs: plan.scenario.qos.latency?.limit ?? null, quality: bound ? { value: bound.limit, label: formatQuality(q.metric, bound.limit) } : null };
  const hidden = points.filter((p) => !Number.isFinite(p.quality)).length;
  return {
    id: 'pareto',
    title: 'Pareto front',
    caption: `Every configuration: ${label} latency against ${q.label} (measured on ${q.data}${q.better === 'lower' ? '; lower is better' : ''}); size is bytes sent, hover for energy. The Pareto front is over latency, ${q.label}, bytes and energy among the feasible configurations, so some of its points look dominated in this two-axis view. Dashed: the QoS limits.${sources.has('estimate') ? ` Triangles: estimated ${q.label}.` : ''}${hidden ? ` ${hidden} exact configurations (infinite ${q.label}) are not drawn.` : ''}`,
    missing: 'No configurations.',
    spec: points.length ? paretoSpec(`${points.length} configurations, ${plan.feasible.length} feasible`, points, axes, limits) : null,
  };
}

/** The switching plan's winners as uplink intervals (between geometric midpoints of grid points) per RTT and queueing band. */
function switchingCells(sw: SwitchingPlan): { cells: SwitchingCell[]; bands: string[] } {
  const up = sw.grid.upMbps;
  const edge = (i: number) => (i <= 0 ? up[0]! : i >= up.length ? up[up.length - 1]! : Math.sqrt(up[i - 1]! * up[i]!));
  const ids = new Map(sw.options.map((o) => [o.name, o.id]));
  const bands: string[] = [];
  const cells = sw.winners.flatMap((byRtt, q) => byRtt.flatMap((row, r) => {
    const band = `RTT ${sw.grid.rttMs[r]} ms, queue ${sw.grid.queueMs[q]} ms`;
    bands.push(band);
    return row.map((option, u) => ({ fromMbps: edge(u), toMbps: edge(u + 1), band, option, configuration: ids.get(option)! }));
  }));
  return { cells, bands };
}

function switchingChart(plan: PlanResult): ChartDef {
  const sw = plan.switching;
  const grid = sw ? switchingCells(sw) : null;
  const options = sw ? sw.options.map((o) => `${o.name}: ${o.id}`).join('; ') : '';
  return {
    id: 'switching',
    title: 'Switching plan',
    caption: sw ? `Which configuration an adaptive edge runs under which network conditions: the best one meeting the ${sw.latencyLimitMs} ms latency limit (by ${plan.quality.label}, then latency; the fastest where none does), from each configuration's device and server time plus RTT, queueing and its bytes over the uplink. The edge switches when another wins by ${(100 * sw.hysteresis.margin).toFixed(0)} % for ${sw.hysteresis.frames} frames. ${options}.` : '',
    missing: 'No switching plan: it needs split configurations and a latency limit.',
    spec: sw && grid ? switchingSpec(`${sw.options.length} configurations over uplink, RTT and queueing`, grid.cells, grid.bands) : null,
  };
}

/** The charts in reading order, rendered to inline SVG. */
function charts(plan: PlanResult): Promise<Chart[]> {
  const defs = [saliencyChart(plan), bytesChart(plan), latencyChart(plan), rateQualityChart(plan), paretoChart(plan), switchingChart(plan)];
  return Promise.all(defs.map(async ({ spec, ...c }) => ({ ...c, svg: spec ? embedSvg(await renderSvg(spec), c.id) : null })));
}

function chartSection(c: Chart): string {
  const body = c.svg ? `<figure class="chart" data-chart="${esc(c.id)}">${c.svg}<figcaption>${esc(c.caption)}</figcaption></figure>` : `<p class="missing" data-missing-chart="${esc(c.id)}">${esc(c.missing)}</p>`;
  return `<section id="chart-${esc(c.id)}"><h2>${esc(c.title)}</h2>${body}</section>`;
}

// ---------------------------------------------------------------------------------------------------- sections

function figureTiles(c: PlanConfiguration, key: LatencyKey, label: string, plan: PlanResult): string {
  const q = c.quality;
  const tiles: [string, string, string][] = [
    [`${label} latency`, esc(fmtMsUnit(c.latency[key])), `mean ${esc(fmtMsUnit(c.latency.meanMs))} · ${c.latency.source === 'des' ? 'simulated (DES)' : 'analytic'}`],
    [q.label, qualityHtml(q), q.source === 'estimate' ? `${ESTIMATE_BADGE} not measured` : esc(`${q.ci ? `95 % CI ${formatQuality(q.metric, q.ci[0])} to ${formatQuality(q.metric, q.ci[1])} · ` : ''}on ${plan.quality.data}`)],
    ['bytes per inference', esc(fmtSize(c.bytes)), esc(`${c.codec}${c.downlinkBytes > 0 ? ` · ${fmtSize(c.downlinkBytes)} back` : ''}`)],
    ['edge energy', esc(fmtEnergy(c.energyJ)), 'per inference'],
    ['edge memory', esc(fmtSize(c.edgeMemoryBytes)), 'weights + activations'],
    ['throughput', esc(`${c.throughputFps.toFixed(1)} fps`), 'per device stream'],
  ];
  return `<div class="tiles">${tiles.map(([name, value, note]) => `<div class="tile"><div class="tile-name">${esc(name)}</div><div class="tile-value">${value}</div><div class="tile-note">${note}</div></div>`).join('')}</div>`;
}

function configurationLine(c: PlanConfiguration, plan: PlanResult): string {
  const cutIds = c.cuts.map((k) => `<code>${esc(k.id)}</code>`).join(' and ');
  const where = c.placement === 'local' ? 'everything on the edge device' : c.placement === 'remote' ? 'everything on the server' : `cut at #${c.cuts.map((k) => k.index).join(', #')} (${cutIds})`;
  const exits = c.exits ? `, early exit ${esc(exitsText(c))} at <code>${c.exits.cuts.map(esc).join(', ')}</code>` : '';
  const devices = c.devices.length ? `${c.devices.map(esc).join(' → ')}: ` : '';
  return `<p class="config-line">${devices}${where}; codec <code>${esc(c.codec)}</code>${exits}. Objective: ${esc(plan.scenario.objective)}.</p>`;
}

const list = (items: readonly string[]): string => `<ul>${items.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>`;

function verdict(plan: PlanResult): string {
  const { key, label } = qosLatency(plan);
  const c = chosen(plan);
  const r = plan.recommendation;
  if (r) {
    // the explanation already states the binding constraint and the runner-up
    return `<section id="recommendation" class="verdict ok"><div class="verdict-kind">Recommendation</div><h2 class="verdict-id">${esc(r.id)}</h2>${c ? configurationLine(c, plan) + figureTiles(c, key, label, plan) : ''}<div class="explanation">${list(r.explanation)}</div></section>`;
  }
  const m = plan.nearestMiss;
  if (m) {
    const summary = `Closest: <code>${esc(m.id)}</code>: ${esc(constraintLabel(plan, m.constraint))} is ${valueHtml(plan, m.constraint, m.value, c)} against a limit of ${esc(fmtConstraint(plan, m.constraint, m.limit))}, short by ${esc(fmtPct(m.shortBy))}.`;
    return `<section id="nearest-miss" class="verdict miss"><div class="verdict-kind">No configuration meets every constraint</div><h2 class="verdict-id">${esc(m.id)}</h2><p class="miss-summary">${summary}</p>${c ? configurationLine(c, plan) + figureTiles(c, key, label, plan) : ''}<div class="explanation">${list(m.explanation)}</div></section>`;
  }
  return `<section id="nearest-miss" class="verdict miss"><div class="verdict-kind">No recommendation</div><p>The plan has neither a recommendation nor a nearest miss (no configurations were explored).</p></section>`;
}

function estimateBanner(plan: PlanResult): string {
  const estimated = plan.configurations.filter((c) => c.quality.source === 'estimate').length;
  if (estimated === 0) return '';
  const all = estimated === plan.configurations.length;
  // the planner estimates only without labelled data: the model's stated accuracy x agreement with the full model
  return `<div class="banner estimate" id="quality-estimate"><strong>${esc(plan.quality.label)} is estimated, not measured${all ? '' : ` for ${estimated} of ${plan.configurations.length} configurations`}.</strong> These figures (marked ≈ and ${ESTIMATE_BADGE}) are estimated without labelled data, from each configuration's agreement with the full model, not measured on labelled samples, and may be off by several points. Give a labelled dataset in the scenario to measure them.</div>`;
}

function warnings(plan: PlanResult): string {
  return plan.warnings.length ? `<section id="warnings" class="banner warn"><strong>Warnings</strong>${list(plan.warnings)}</section>` : '';
}

function constraintsTable(plan: PlanResult): string {
  const c = chosen(plan);
  const { label } = qosLatency(plan);
  const rows = (Object.entries(plan.scenario.qos) as [ConstraintName, { limit: number; at?: string }][]).map(([name, q]) => {
    const check: ConstraintCheck | undefined = c?.checks.find((k) => k.constraint === name);
    const what = name === 'latency' ? `${CONSTRAINT_LABELS.latency} (${label})` : name === 'quality' ? `${plan.quality.label} (on ${plan.quality.data})` : constraintLabel(plan, name);
    const status = check ? `<td class="${check.met ? 'met' : 'violated'}">${check.met ? '✓ met' : '✗ violated'}</td>` : '<td>—</td>';
    return `<tr><td>${esc(what)}</td><td class="num">${isMinimum(plan, name) ? '≥' : '≤'} ${esc(fmtConstraint(plan, name, q.limit))}</td><td class="num">${check ? valueHtml(plan, name, check.value, c) : '—'}</td><td class="num">${check ? esc(fmtPct(check.margin)) : '—'}</td>${status}</tr>`;
  });
  const whose = c ? ` (values of <code>${esc(c.id)}</code>)` : '';
  return `<section id="constraints"><h2>Constraints${whose}</h2><table class="compact"><thead><tr><th>constraint</th><th>limit</th><th>value</th><th>margin</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function definitionList(items: [string, string][]): string {
  return `<dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function setupAndModel(plan: PlanResult): string {
  const s = plan.setup;
  const m = plan.model;
  const setup = definitionList([
    ['edge device', esc(s.edge)],
    ...(s.chain.length ? [['device chain', s.chain.map(esc).join(' → ')] as [string, string]] : []),
    ['server', esc(s.server ?? 'none')],
    ['links', s.links.length ? s.links.map(esc).join('<br>') : 'none'],
    ['workload', esc(`${s.workload.fps} fps × ${s.workload.devices} device${s.workload.devices === 1 ? '' : 's'}`)],
    ['scenario', esc(plan.scenario.file ?? 'built in')],
  ]);
  const q = plan.quality;
  const model = definitionList([
    ['model', `<code>${esc(m.source)}</code>`],
    ['nodes', esc(m.nodes)],
    ['MACs / FLOPs', esc(`${fmtCount(m.macs)} / ${fmtCount(m.flops)}`)],
    ['parameters', esc(`${fmtCount(m.params)} (${fmtBytes(m.paramBytes)})`)],
    ['input', esc(fmtShape(m.inputShape))],
    ['outputs', m.outputs.map((o) => `<code>${esc(o)}</code>`).join(', ')],
    ['cuts explored', esc(plan.cuts.length)],
    ['quality metric', esc(`${q.label} (${q.metric}, ${q.better} is better): ${q.reason}`)],
    ['quality measured on', esc(`${q.samples} samples of ${q.data}${q.source === 'estimate' ? ' (agreement with the full model only)' : ''}`)],
    ['evaluation', esc(describeEvaluation(q))],
    [`full model's ${q.label}`, qualityHtml(q.full)],
  ]);
  return `<section id="setup" class="two-col"><div><h2>Set-up</h2>${setup}</div><div><h2>Model</h2>${model}</div></section>`;
}

function verdictCell(c: PlanConfiguration, status: ParetoStatus): string {
  if (c.feasible) return `<td data-v="${status === 'recommended' ? 0 : status === 'Pareto front' ? 1 : 2}" class="met">✓ ${esc(status === 'feasible' ? 'feasible' : status)}</td>`;
  const violated = c.checks.filter((k) => !k.met);
  const worst = Math.min(...violated.map((k) => k.margin));
  const text = violated.map((k) => `${k.constraint === 'quality' ? c.quality.label : CONSTRAINT_LABELS[k.constraint]} ${fmtPct(-k.margin)} off`).join(', ');
  return `<td data-v="${3 - worst}" class="violated">✗ ${esc(text)}${status === 'nearest miss' ? ' <span class="badge">nearest miss</span>' : ''}</td>`;
}

function configRow(c: PlanConfiguration, key: LatencyKey, status: ParetoStatus, withTensors: boolean): string {
  const tensors = withTensors && c.cuts.length ? `<div class="tensor">${c.cuts.map((k) => esc(k.id)).join('<br>')}</div>` : '';
  const cells = [
    `<td class="config" data-v="${esc(c.id)}"><code>${esc(c.id)}</code>${tensors}</td>`,
    `<td data-v="${c.cuts[0]?.index ?? (c.placement === 'remote' ? -1 : 1e9)}" title="${esc(c.cuts.map((k) => k.id).join(', '))}">${esc(cutText(c))}</td>`,
    `<td>${esc(c.codec)}</td>`,
    `<td${c.exits ? ` title="${esc(`${fmtPct(c.exits.rates.reduce((a, r) => a + r, 0), 1)} of the samples leave at an exit`)}"` : ''}>${esc(exitsText(c))}</td>`,
    `<td class="num" data-v="${c.latency[key]}">${esc(c.latency[key].toFixed(1))}${c.latency.source === 'des' ? ' <span class="badge" title="refined by the discrete-event simulation">DES</span>' : ''}</td>`,
    `<td class="num" data-v="${c.latency.meanMs}">${esc(c.latency.meanMs.toFixed(1))}</td>`,
    `<td class="num" data-v="${c.quality.value}">${qualityHtml(c.quality)}</td>`,
    `<td class="num" data-v="${c.bytes}">${esc(fmtSize(c.bytes))}</td>`,
    `<td class="num" data-v="${c.downlinkBytes}">${esc(fmtSize(c.downlinkBytes))}</td>`,
    `<td class="num" data-v="${c.energyJ ?? ''}">${esc(fmtEnergy(c.energyJ))}</td>`,
    `<td class="num" data-v="${c.edgeMemoryBytes}">${esc(fmtSize(c.edgeMemoryBytes))}</td>`,
    `<td class="num" data-v="${c.throughputFps}">${esc(c.throughputFps.toFixed(1))}</td>`,
    verdictCell(c, status),
  ];
  const cls = status === 'recommended' || status === 'nearest miss' ? 'chosen' : status === 'Pareto front' ? 'pareto' : status;
  return `<tr class="${esc(cls)}" data-id="${esc(c.id)}">${cells.join('')}</tr>`;
}

function configTable(rows: readonly PlanConfiguration[], plan: PlanResult, id: string, withTensors: boolean): string {
  const { key, label } = qosLatency(plan);
  const status = statusOf(plan);
  const columns = ['configuration', 'cut', 'codec', 'exits', `${label} ms`, 'mean ms', plan.quality.label, 'bytes up', 'bytes down', 'energy', 'memory', 'fps', 'verdict'];
  const head = columns.map((h) => `<th scope="col">${esc(h)}</th>`).join('');
  return `<div class="table-wrap"><table class="configs sortable" id="${esc(id)}"><thead><tr>${head}</tr></thead><tbody>${rows.map((c) => configRow(c, key, status(c), withTensors)).join('')}</tbody></table></div>`;
}

/** Threshold above which the full table is folded away (the shortlist stays open). */
const OPEN_TABLE_ROWS = 40;

function configurationTables(plan: PlanResult): string {
  const { key, label } = qosLatency(plan);
  const byLatency = [...plan.configurations].sort((a, b) => a.latency[key] - b.latency[key]);
  const shortlistIds = new Set([plan.recommendation?.id, plan.recommendation?.runnerUp, plan.nearestMiss?.id, ...plan.pareto]);
  const worstMargin = (c: PlanConfiguration) => Math.min(...c.checks.map((k) => k.margin));
  const shortlist = plan.recommendation
    ? byLatency.filter((c) => shortlistIds.has(c.id))
    : [...plan.configurations].sort((a, b) => worstMargin(b) - worstMargin(a)).slice(0, 10);
  const shortTitle = plan.recommendation ? `Shortlist: the recommendation, the runner-up and the Pareto front (${plan.pareto.length} of ${plan.feasible.length} feasible)` : 'Closest to feasible (smallest worst shortfall first)';
  const all = configTable(byLatency, plan, 'all-configurations', false);
  const fold = plan.configurations.length > OPEN_TABLE_ROWS;
  return `<section id="configurations"><h2>Configurations</h2>
<p class="note">Latency: ${esc(label)} per inference in ms (<span class="badge">DES</span>: refined by the discrete-event simulation, otherwise analytic); ${esc(plan.quality.label)} measured on ${esc(plan.quality.data)}; bytes up are the expected bytes sent per inference, bytes down the model's outputs sent back; click a column header to sort.</p>
<h3>${esc(shortTitle)}</h3>${configTable(shortlist, plan, 'shortlist', true)}
<details id="all-configurations-details"${fold ? '' : ' open'}><summary>All ${plan.configurations.length} configurations (${plan.feasible.length} feasible), fastest first</summary>${all}</details></section>`;
}

function provenance(plan: PlanResult): string {
  const steps = plan.timings.steps.map((s) => `<tr><td>${esc(s.step)}</td><td class="num">${esc(s.seconds.toFixed(2))} s</td><td>${s.cached ? '<span class="badge">cached</span>' : ''}</td></tr>`).join('');
  return `<section id="provenance"><h2>How this plan was made</h2><p>Planning took ${esc(plan.timings.totalS.toFixed(1))} s.</p><table class="compact"><thead><tr><th>step</th><th>time</th><th></th></tr></thead><tbody>${steps}</tbody></table></section>`;
}

/** Sorts a table by a clicked header: numbers by their data-v value, text alphabetically. Progressive: the page is complete without it. */
const SORT_SCRIPT = `for (const table of document.querySelectorAll('table.sortable')) {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
    const asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach((h) => h.removeAttribute('aria-sort'));
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    const value = (row) => { const cell = row.cells[col]; const v = cell.dataset.v ?? cell.textContent.trim(); return v !== '' && !isNaN(Number(v)) ? Number(v) : v; };
    const rows = [...table.tBodies[0].rows].sort((a, b) => { const x = value(a), y = value(b); const d = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)); return asc ? d : -d; });
    table.tBodies[0].append(...rows);
  }));
}`;

const STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #dfe3ea; --bg: #f6f7f9; --ok: #1e7b34; --ok-bg: #eef8f0; --bad: #b3261e; --bad-bg: #fdf0ef; --warn-bg: #fff8e1; --accent: #1f5fbf; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
header { border-bottom: 1px solid var(--line); margin-bottom: 20px; padding-bottom: 12px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; }
header .meta { color: var(--muted); font-size: 13px; }
nav { margin-top: 8px; font-size: 13px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
h2 { font-size: 19px; margin: 0 0 10px; font-weight: 620; }
h3 { font-size: 15px; margin: 18px 0 8px; font-weight: 600; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px; margin: 0 0 18px; }
code { font-family: "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; background: #f1f3f6; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
.verdict { border-left: 6px solid var(--ok); background: var(--ok-bg); }
.verdict.miss { border-left-color: var(--bad); background: var(--bad-bg); }
.verdict-kind { text-transform: uppercase; letter-spacing: 0.06em; font-size: 12px; font-weight: 700; color: var(--ok); }
.verdict.miss .verdict-kind { color: var(--bad); }
.verdict-id { font-size: 22px; margin: 2px 0 6px; word-break: break-word; }
.config-line, .miss-summary { margin: 4px 0 12px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px; margin: 10px 0 14px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.tile-name { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.tile-value { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile-note { font-size: 12px; color: var(--muted); }
.explanation ul { margin: 6px 0 10px; padding-left: 20px; }
.banner { border-radius: 8px; padding: 12px 16px; margin: 0 0 18px; border: 1px solid var(--line); }
.banner.estimate { background: var(--warn-bg); border-color: #f0d68a; }
.banner.warn { background: var(--warn-bg); border-color: #f0d68a; }
.banner ul { margin: 4px 0 0; padding-left: 20px; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 0 5px; border-radius: 3px; background: #e6e9ef; color: #394150; vertical-align: 1px; }
.badge.estimate { background: #ffe08a; color: #5c4400; }
.two-col { display: grid; grid-template-columns: 1fr 1fr; gap: 28px; }
@media (max-width: 800px) { .two-col { grid-template-columns: 1fr; } }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
figure.chart { margin: 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; max-width: 900px; }
.missing { color: var(--muted); font-style: italic; margin: 0; }
.note { color: var(--muted); font-size: 13px; margin: 0 0 6px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; }
table.configs { width: 100%; }
th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); padding: 6px; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " ▲"; }
th[aria-sort=descending]::after { content: " ▼"; }
td { border-bottom: 1px solid var(--line); padding: 5px 6px; vertical-align: top; white-space: nowrap; }
td.config { white-space: normal; min-width: 250px; }
td.config code { word-break: normal; white-space: nowrap; background: none; padding: 0; }
td.met, td.violated { white-space: normal; min-width: 120px; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.met { color: var(--ok); }
td.violated { color: var(--bad); }
tr.chosen td { background: #fff1d6; font-weight: 600; }
tr.pareto td:first-child { box-shadow: inset 3px 0 0 #1f77b4; }
tr.infeasible td { color: #7a8191; }
tr.infeasible td.violated { color: var(--bad); }
.tensor { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
details summary { cursor: pointer; font-weight: 600; margin: 14px 0 8px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
`;

/** One self-contained HTML page (no network, no JavaScript needed) that shows the plan. */
export async function renderReport(plan: PlanResult): Promise<string> {
  const chartList = await charts(plan);
  const title = `impera plan: ${plan.scenario.name}`;
  const nav = [['recommendation', plan.recommendation ? 'Recommendation' : 'Nearest miss'], ['setup', 'Set-up'], ...chartList.map((c) => [`chart-${c.id}`, c.title]), ['configurations', 'Configurations']]
    .map(([id, text]) => `<a href="#${esc(id === 'recommendation' && !plan.recommendation ? 'nearest-miss' : id!)}">${esc(text!)}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header><h1>${esc(title)}</h1><div class="meta">${esc(plan.model.source)} · ${esc(plan.setup.edge)}${plan.setup.server ? ` → ${esc(plan.setup.server)}` : ''} · ${esc(plan.configurations.length)} configurations · created ${esc(plan.createdAt)}</div><nav>${nav}</nav></header>
${verdict(plan)}
${estimateBanner(plan)}
${warnings(plan)}
${constraintsTable(plan)}
${setupAndModel(plan)}
${chartList.map(chartSection).join('\n')}
${configurationTables(plan)}
${provenance(plan)}
<footer>${esc(plan.format)} · generated by impera · this page loads nothing from the network; JavaScript only adds table sorting</footer>
</main>
<script>${SORT_SCRIPT}</script>
</body>
</html>
`;
}
