/** Typed access to node attributes. */
import { onnx, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';

const T = onnx.AttributeProto.AttributeType;

function find(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export const hasAttr = (node: NodeProto, name: string): boolean => find(node, name) !== undefined;

export function attrInt(node: NodeProto, name: string, dflt: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, dflt?: number): number | undefined {
  const a = find(node, name);
  return a ? Number(a.i ?? 0) : dflt;
}

export function attrFloat(node: NodeProto, name: string, dflt: number): number;
export function attrFloat(node: NodeProto, name: string): number | undefined;
export function attrFloat(node: NodeProto, name: string, dflt?: number): number | undefined {
  const a = find(node, name);
  return a ? (a.f ?? 0) : dflt;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}

export function attrString(node: NodeProto, name: string, dflt: string): string;
export function attrString(node: NodeProto, name: string): string | undefined;
export function attrString(node: NodeProto, name: string, dflt?: string): string | undefined {
  const a = find(node, name);
  return a?.s ? Buffer.from(a.s).toString('utf8') : dflt;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return find(node, name)?.t ?? undefined;
}

/** Attribute values the model builder accepts; integers become INT(S), other numbers FLOAT(S). */
export type AttrValue = number | number[] | string | TensorProto | { float: number } | { floats: number[] } | onnx.IGraphProto;

export function makeAttribute(name: string, value: AttrValue): onnx.AttributeProto {
  const A = (p: onnx.IAttributeProto) => onnx.AttributeProto.create({ name, ...p });
  if (typeof value === 'string') return A({ type: T.STRING, s: Buffer.from(value, 'utf8') });
  if (typeof value === 'number') return Number.isInteger(value) ? A({ type: T.INT, i: value }) : A({ type: T.FLOAT, f: value });
  if (Array.isArray(value)) return value.every(Number.isInteger) ? A({ type: T.INTS, ints: value }) : A({ type: T.FLOATS, floats: value });
  if ('float' in value) return A({ type: T.FLOAT, f: value.float });
  if ('floats' in value) return A({ type: T.FLOATS, floats: value.floats });
  if ('node' in value) return A({ type: T.GRAPH, g: value as onnx.IGraphProto });
  return A({ type: T.TENSOR, t: value as TensorProto });
}
