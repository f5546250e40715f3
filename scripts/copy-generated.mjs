// tsc does not copy plain JavaScript: put the generated protobuf module next to the compiled sources.
import { cpSync } from 'node:fs';
cpSync('src/onnx/generated', 'dist/src/onnx/generated', { recursive: true });
