/** `impera inspect`: the model summary and every cut, with bytes and the cost of each side. */
import type { Command } from 'commander';
import { findCuts, cutRecord, type Cut } from '../../cuts/cuts.js';
import { modelSummary, type ModelSummary } from '../../cost/summary.js';
import { nodeCosts, type NodeCostRecord } from '../../cost/part.js';
import { addCutListOptions, addModelOptions, loadGraph, printJson, printWarnings, type CutListCliOptions, type ModelOptions } from '../common.js';
import { fmtBytes, fmtCount, fmtInt, fmtPercent, fmtShape, table } from '../table.js';

interface InspectOptions extends ModelOptions, CutListCliOptions {
  nodes?: boolean;
  json?: boolean;
}

export function registerInspect(program: Command): void {
  addCutListOptions(addModelOptions(program.command('inspect')), 'the cuts listed')
    .description('summarise a model and list every place it can be cut')
    .option('--nodes', 'also list every node run per inference with its cost')
    .option('--json', 'print the summary and cuts as JSON')
    .action(async (model: string | undefined, options: InspectOptions) => {
      const g = await loadGraph(model, options);
      const summary = modelSummary(g);
      const cuts = findCuts(g, { maxWidth: options.width, pareto: options.pareto ?? false });
      const nodes = options.nodes ? nodeCosts(g) : undefined;
      if (options.json) return printJson({ model: summary, cuts: cuts.map(cutRecord), ...(nodes ? { nodes } : {}) });
      printWarnings(summary.warnings);
      const sections = [summaryText(summary, cuts, options), ...(nodes ? [nodeTable(nodes)] : []), cutTable(cuts, summary, options.pareto ?? false)];
      process.stdout.write(`${sections.join('\n\n')}\n`);
    });
}

function summaryText(s: ModelSummary, cuts: readonly Cut[], o: CutListCliOptions): string {
  const io = (t: ModelSummary['inputs'][number]) => `${t.name} ${t.dtype} [${t.shape.join(', ')}] ${fmtInt(t.bytes)} B`;
  const single = cuts.filter((c) => c.tensors.length === 1).length;
  const ops = Object.entries(s.ops).map(([op, n]) => `${op} ${n}`).join(', ');
  const rows: [string, string][] = [
    ['model', `${s.source} (${fmtBytes(s.fileBytes)}) · ${s.producer || 'unknown producer'} · IR ${s.irVersion} · opset ${Object.entries(s.opsets).map(([d, v]) => (d === 'ai.onnx' ? v : `${d} ${v}`)).join(', ')}`],
    ['inputs', s.inputs.map(io).join('; ') + (s.batch ? ` (${s.batch.symbol} = ${s.batch.size})` : '')],
    ['outputs', s.outputs.map(io).join('; ')],
    ['nodes', `${s.nodes.runtime} run per inference, ${s.nodes.constant} constant${s.nodes.dead ? `, ${s.nodes.dead} unused` : ''} · ${ops}`],
    ['params', `${fmtCount(s.params.count)} (${fmtBytes(s.params.bytes)})`],
    ['compute', `${fmtCount(s.cost.macs)} MACs · ${fmtCount(s.cost.flops)} FLOPs${s.cost.unknownCostNodes ? ` (+${s.cost.unknownCostNodes} nodes of unknown cost)` : ''} · peak activations ${fmtBytes(s.cost.peakActivationBytes)}`],
    ['cuts', `${cuts.length}${o.pareto ? ' on the front of bytes vs head FLOPs' : ''} of up to ${o.width} tensors: ${single} single-tensor, ${cuts.length - single} wider${cuts.some((c) => c.index < 0) ? ' (those without # are named by their tensors)' : ''}`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n');
}

function nodeTable(nodes: readonly NodeCostRecord[]): string {
  const rows = nodes.map((n) => [
    n.index,
    n.name,
    n.opType,
    n.outputs.map((o) => fmtShape(o.shape)).join(', '),
    n.known ? fmtCount(n.macs) : '?',
    n.known ? fmtCount(n.flops) : '?',
    fmtBytes(n.paramBytes),
    fmtBytes(n.inputBytes + n.outputBytes),
  ]);
  return table(['node', 'name', 'op', 'output shape', 'MACs', 'FLOPs', 'params', 'activations in+out'], rows, ['right', 'left', 'left', 'left', 'right', 'right', 'right', 'right']);
}

function cutTable(cuts: readonly Cut[], s: ModelSummary, pareto: boolean): string {
  const rows = cuts.map((c) => [
    c.index >= 0 ? c.index : '-',
    c.tensors.join('\n'),
    c.detail.map((t) => fmtShape(t.shape)).join('\n'),
    fmtInt(c.bytes),
    fmtInt(c.wireBytes.float16),
    fmtInt(c.wireBytes.int8),
    `${fmtCount(c.headCost.macs)} ${fmtPercent(c.headCost.macs, s.cost.macs)}`,
    ...(pareto ? [fmtCount(c.headCost.flops)] : []),
    fmtCount(c.tailCost.macs),
    fmtBytes(c.headCost.paramBytes),
    fmtBytes(c.headCost.peakActivationBytes),
  ]);
  return table(
    ['#', 'cut tensor(s)', 'shape', 'bytes', 'as fp16', 'as int8', 'head MACs', ...(pareto ? ['head FLOPs'] : []), 'tail MACs', 'head params', 'head peak RAM'],
    rows,
    ['right', 'left', 'left', 'right', 'right', 'right', 'right', ...(pareto ? ['right' as const] : []), 'right', 'right', 'right'],
  );
}
