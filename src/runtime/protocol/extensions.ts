/**
 * impera's extensions of the Open Inference Protocol, listed in the server metadata's "extensions":
 * - binary_tensor_data: Triton's binary tensor data (body.ts);
 * - impera_stream: the WebSocket stream (stream.ts);
 * - impera_wire: a model whose inputs are a codec's wire tensors also takes one BYTES input `impera:wire`, [batch],
 *   each element one sample's bytes as codecs/wire.ts packs them (fewer bytes than the tensors: sub-byte codes,
 *   sparse and entropy coding);
 * - impera_timing: every response carries the server's own time as parameters (ms in the queue, ms in inference,
 *   the batch it ran in; over HTTP, the body's arrival: the bytes read after the headers and the ms they took).
 */
export const EXTENSIONS = ['binary_tensor_data', 'impera_stream', 'impera_wire', 'impera_timing'];

export const PACKED_WIRE_INPUT = 'impera:wire';

export const TIMING = { queue: 'impera_queue_ms', compute: 'impera_compute_ms', batch: 'impera_batch_size', receive: 'impera_receive_ms', receiveBytes: 'impera_receive_bytes' } as const;
