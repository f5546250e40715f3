/** The whole model with extra tensors exposed as outputs: one forward pass yields every cut tensor at once. */
import { onnx, type ModelProto } from './proto.js';

export function exposeTensors(proto: ModelProto, names: readonly string[]): ModelProto {
  const graph = proto.graph!;
  const known = new Set((graph.output ?? []).map((o) => o.name));
  const extra = [...new Set(names)].filter((n) => !known.has(n)).map((name) => onnx.ValueInfoProto.create({ name }));
  return onnx.ModelProto.create({ ...proto, graph: { ...graph, output: [...(graph.output ?? []), ...extra] } as onnx.IGraphProto });
}
