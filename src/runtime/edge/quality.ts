/**
 * What the edge delivered, kept and measured: every frame's outputs written as `.npy` files, and their quality
 * under the task's metric (task/) instead of an argmax — each answered frame scored against the full model's
 * outputs on the same frame, run here from a reference model (fidelity and agreement metrics), or against the
 * frame's label (accuracy). The metric is chosen on the first answered frame, from its outputs (shapes and value
 * range, and what made them where the reference model's graph can be analysed) and whether the frames are labelled,
 * or set by the user; a metric that needs the full model without a
 * reference is left out with a note saying how to get it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../data/npy.js';
import { isImperaError } from '../../errors.js';
import { analyzeModel } from '../../graph/analyze.js';
import { producerInfo } from '../../graph/producers.js';
import { loadModel, type OnnxModel } from '../../onnx/io.js';
import type { Tensor } from '../../onnx/tensor.js';
import { createSession, run, type Feeds, type ort } from '../../ort/session.js';
import { chooseTask } from '../../task/choose.js';
import { qualityFigure } from '../../task/quality.js';
import type { DataInfo, OutputInfo, QualityFigure, Task, TaskOptions } from '../../task/types.js';
import type { FrameAnswer } from './runner.js';

/** The quality of a run: the metric's figure over the scored frames, why that metric, and what it was compared with. */
export interface EdgeQuality extends QualityFigure {
  reason: string;
  /** 'the full model run here' or 'labels'. */
  against: string;
}

/** An output name as a file name: path separators and other odd characters become '_'. */
const fileSafe = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, '_');

/** The file one frame's output is saved to: `frame-000012.<output>.npy`. */
export const outputFile = (dir: string, frame: number, output: string): string => join(dir, `frame-${String(frame).padStart(6, '0')}.${fileSafe(output)}.npy`);

/** Write each output of a frame's answer as `.npy` under `dir` (created); returns the files. */
export function saveOutputs(dir: string, answer: FrameAnswer): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(answer.outputs).map(([name, t]) => {
    const file = outputFile(dir, answer.result.frame, name);
    writeNpy(file, t);
    return file;
  });
}

/**
 * What the graph says of each output of the model (graph/producers.ts), analysed at `inputShapes` (a frame's, which
 * fix a segmenter's dynamic H and W) where given; nothing where it cannot be analysed without more shapes.
 */
async function outputFacts(model: OnnxModel, inputShapes?: Record<string, number[]>): Promise<Map<string, GraphFacts>> {
  try {
    const g = await analyzeModel(model, inputShapes ? { inputShapes } : {});
    return new Map(g.outputs.map((o) => [o.name!, producerInfo(g, o.name!)]));
  } catch (e) {
    // a model with dynamic dims beyond the batch needs their sizes: the choice then reads shapes only
    if (isImperaError(e)) return new Map();
    throw e;
  }
}

type GraphFacts = ReturnType<typeof producerInfo>;

/** What the metric is told about an output: its dims, the range of its values on the first frame, and what the graph says of it. */
function outputInfo(name: string, t: Tensor, facts: GraphFacts = {}): OutputInfo {
  let lo = Infinity;
  let hi = -Infinity;
  const values = t.data as ArrayLike<number | bigint>;
  for (let i = 0; i < values.length; i++) {
    const x = Number(values[i]);
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return { name, dims: t.dims, range: [lo, hi], ...facts };
}

export class FrameQuality {
  private task: Task | undefined;
  private readonly scores: number[] = [];
  /** Why frames are not scored: an automatic choice the outputs or labels refused. */
  private refused: string | undefined;

  /** What the graph says of each output, read on the first frame. */
  private facts: ReadonlyMap<string, GraphFacts> | undefined;

  private constructor(
    private readonly reference: ort.InferenceSession | undefined,
    /** The model whose graph tells what the outputs are: the reference (analysed at the frames' shapes) or the tail. */
    private readonly described: { model: OnnxModel; atFrameShapes: boolean } | undefined,
    private readonly data: DataInfo,
    private readonly options: TaskOptions,
  ) {}

  /**
   * `reference`: the full model's file (run on every frame), if given; `data`: whether the frames carry labels;
   * `tail`: the part whose outputs the frames' are, read for what its graph says of them when there is no reference
   * (a detector's NMS outputs have a data-dependent length, which shapes alone do not show).
   */
  static async open(reference: string | undefined, data: DataInfo, options: TaskOptions, threads?: number, tail?: string): Promise<FrameQuality> {
    const model = reference === undefined ? undefined : loadModel(reference);
    if (!model) return new FrameQuality(undefined, tail === undefined ? undefined : { model: loadModel(tail), atFrameShapes: false }, data, options);
    return new FrameQuality(await createSession(model.proto, model.dir, threads ? { threads } : {}), { model, atFrameShapes: true }, data, options);
  }

  /** Score one frame's answer; a frame without outputs (failed) is not scored. */
  async add(answer: FrameAnswer, feeds: Feeds, label: number | undefined): Promise<void> {
    if (Object.keys(answer.outputs).length === 0 || this.refused) return;
    const full = this.reference ? await run(this.reference, feeds) : answer.outputs;
    try {
      const d = this.described;
      this.facts ??= d ? await outputFacts(d.model, d.atFrameShapes ? Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]])) : undefined) : new Map();
      this.task ??= await chooseTask(Object.entries(full).map(([name, t]) => outputInfo(name, t, this.facts!.get(name))), this.data, this.options);
    } catch (e) {
      // a metric the user set that does not fit is their error; an automatic choice that finds none only leaves quality out
      if (this.options.metric !== undefined || this.options.module !== undefined || !isImperaError(e)) throw e;
      this.refused = `no metric measured: ${e.message}`;
      return;
    }
    if (!this.reference && !this.task.metric.needsLabels) return;
    const [score] = await this.task.score({ n: 1, split: answer.outputs, full, labels: label === undefined ? null : [label] });
    this.scores.push(score!);
  }

  /** The run's quality, or a note on why there is none. */
  summary(): { quality: EdgeQuality } | { note: string } {
    const t = this.task;
    if (this.refused) return { note: this.refused };
    if (!t) return { note: 'no frame was answered, so none was scored' };
    if (!this.scores.length) return { note: `${t.metric.label} compares the outputs with the full model's: give --reference FULL.onnx to measure it` };
    return { quality: { ...qualityFigure(t.metric, this.scores), reason: t.reason, against: this.reference ? 'the full model run here on the same frames' : 'the frames\u2019 labels' } };
  }

  async close(): Promise<void> {
    await this.reference?.release();
  }
}
