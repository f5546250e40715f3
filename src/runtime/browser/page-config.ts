/**
 * What the browser edge page is told by the server that serves it (or the folder `impera edge --browser` writes):
 * the head's inputs, the tensors it sends, the codec's wire description, the tail model to call and how frames
 * from a camera or image files become the head's input. One type for the writer (Node) and the reader (the page).
 */
import type { WireDescription } from '../../codecs/wire.js';
import type { PreprocessSpec } from '../../data/preprocess-spec.js';
import type { TensorMetadata } from '../protocol/messages.js';

/** Where `impera serve` serves the page, and the page's files (relative to it). */
export const EDGE_PAGE_PATH = '/edge/';
export const EDGE_PAGE_FILES = { html: 'index.html', config: 'config.json', head: 'head.onnx', script: 'edge.js', ort: 'ort/' } as const;
/** onnxruntime-web's script (WebGPU and WASM; it loads its .wasm files from the ort/ folder next to it). */
export const ORT_SCRIPT = 'ort.webgpu.min.js';

export interface EdgePageConfig {
  /** The tail server (http:// or https://); absent: the page's own origin (impera serve --edge-page). */
  server?: string;
  /** The tail the server holds. */
  model: string;
  version?: string;
  /** The output that is the result (default: the server's first). */
  output?: string;
  /** The head's inputs (what a frame holds). */
  inputs: TensorMetadata[];
  /** The head's outputs sent to the server (the wire tensors when a codec is inside the pair). */
  cut: string[];
  /** packed: the codec's bytes as one BYTES input (impera serve); tensors: the head's outputs as they are. */
  wire: 'packed' | 'tensors';
  codec?: WireDescription;
  /** How a camera frame or an image file becomes the head's image input. */
  preprocess: PreprocessSpec;
  /** A frame not answered within this (ms) ends as failed. */
  latencyBudgetMs: number;
}
