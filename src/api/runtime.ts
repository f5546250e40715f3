/** `impera/runtime`: running a split deployment: the Open Inference Protocol server, the edge runner and its clients, the protocol's messages, and Triton repositories. */
export { startServer, SERVER_DEFAULTS, type ServerOptions, type RunningServer } from '../runtime/server/app.js';
export { loadRepository, type ServingDefaults } from '../runtime/server/repository.js';
export type { ServedModel } from '../runtime/server/model.js';
export { EdgeRunner, type FrameResult, type FrameTimings, type Outcome } from '../runtime/edge/runner.js';
export { loadRuntimeConfig, resolveRuntimeConfig, RUNTIME_FORMAT, type RuntimeConfig } from '../runtime/edge/config.js';
export { createClient, HttpClient, StreamClient, CallError, PROTOCOLS, type InferenceClient, type Protocol, type InferCall, type InferReply } from '../runtime/edge/client.js';
export { frameSource, type FrameSource, type Frame } from '../runtime/edge/frames.js';
export { encodeRequest, decodeRequest, encodeResponse, decodeResponse, type InferRequest, type InferResponse, type ModelMetadata, type TensorMetadata, type ServerMetadata } from '../runtime/protocol/messages.js';
export { ProtocolError, isProtocolError } from '../runtime/protocol/errors.js';
export type { InferTensor } from '../runtime/protocol/tensor.js';
export { tritonConfig, writeTritonModel, type TritonOptions } from '../runtime/triton.js';
