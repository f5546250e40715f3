/**
 * What a gradient rule is: it turns the gradients arriving at a node's outputs into gradients for its inputs,
 * emitting ONNX nodes. Rules live one file per op family under rules/ (the tfjs-core layout), listed in
 * registry.ts.
 */
import type { TensorFacts } from '../graph/graph.js';
import type { GraphNode } from '../graph/structure.js';
import type { Emitter } from '../onnx/emitter.js';

/** Shape of a tensor with how each dim follows the batch (batchScale semantics of TensorFacts). */
export interface ShapeFacts {
  shape: readonly number[];
  batchScale: readonly number[] | undefined;
}

export interface GradContext {
  readonly node: GraphNode;
  readonly opset: number;
  readonly emit: Emitter;
  /** Forward input / output names. */
  x(i: number): string;
  y(i: number): string;
  /** Facts about a forward tensor. */
  facts(name: string): TensorFacts;
  /** Gradient arriving at output k (summed over its readers), or undefined when none arrives. */
  dy(k?: number): string | undefined;
  /** Input i lies on a path from a tensor being differentiated: its gradient is wanted. */
  needs(i: number): boolean;
  /**
   * Reduce a gradient whose shape is `from` back to the shape of forward tensor `to`, summing over the axes
   * broadcasting expanded (told apart from batch dims by how dims follow the batch).
   */
  sumTo(grad: string, from: ShapeFacts, to: string): string;
}

export interface GradRule {
  /** Gradients for each input (undefined where none is needed or the input is not differentiable). */
  grad(ctx: GradContext): (string | undefined)[];
  /** Forward outputs the rule reads besides the node's own (e.g. MaxPool indices); the builder adds them. */
  auxOutputs?(node: GraphNode): number;
  /**
   * The lowest opset the rule's backward ops exist in, where it may exceed the model's (a scatter-add): the
   * backward model is then raised to it if every node of the model keeps its meaning (onnx/opset-upgrade.ts).
   */
  opsetNeeded?(ctx: Pick<GradContext, 'node' | 'facts' | 'x'>): number;
  /**
   * Inputs the rule holds constant (passes no gradient to, as Clip its bounds): what computes them is off the
   * gradient's path, so it needs no rule of its own (a log-mel front end's top-dB floor from the input's maximum).
   */
  constantInputs?: readonly number[];
  /** Why this node cannot be differentiated (checked before anything is built), or undefined. */
  unsupported?(ctx: Pick<GradContext, 'node' | 'opset' | 'facts' | 'needs' | 'x' | 'y'>): string | undefined;
}

/** Axis a (possibly negative) of a rank-r tensor. */
export const axisOf = (a: number, rank: number): number => (a < 0 ? a + rank : a);
