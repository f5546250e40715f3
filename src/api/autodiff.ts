/** `impera/autodiff`: reverse-mode differentiation written as ONNX: gradients in one call, the backward graph itself, and gradient rules for custom ops. */
export { computeGradients, type GradientOptions, type Gradients } from '../autodiff/gradients.js';
export { buildBackwardGraph, gradientName, TARGETS_INPUT, OUTPUT_GRAD_INPUT, type BackwardSpec, type BackwardModel, type Objective } from '../autodiff/backward.js';
export { registerGradient, differentiableOps } from '../autodiff/registry.js';
export type { GradRule, GradContext, ShapeFacts } from '../autodiff/rule.js';
