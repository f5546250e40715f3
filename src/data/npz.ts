/**
 * NumPy's .npz archives (numpy.savez, savez_compressed): a zip of .npy files, one per array, read and written. Read through the zip's
 * central directory with node:zlib's raw inflate (no zip package is a dependency; the format needed here is small:
 * stored or deflated members, ZIP64 sizes as numpy writes them).
 */
import { readFileSync } from 'node:fs';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { ImperaError } from '../errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { decodeNpy, encodeNpy } from './npy.js';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_EXTRA = 0x0001;
const FULL32 = 0xffffffff;

interface Member {
  name: string;
  method: number;
  compressed: number;
  localOffset: number;
}

const corrupt = (source: string, what: string) => new ImperaError('DATASET', `'${source}' is not a readable .npz archive (${what})`, 'write it with numpy.savez or numpy.savez_compressed');

/** The end-of-central-directory record: the last one in the file's final 64 KiB + 22 bytes. */
function endRecord(view: DataView, source: string): number {
  for (let at = view.byteLength - 22; at >= Math.max(0, view.byteLength - 22 - 0xffff); at--) if (view.getUint32(at, true) === EOCD) return at;
  throw corrupt(source, 'no zip directory');
}

/** Sizes and offset from a ZIP64 extra field, for the fields the fixed header left at 0xFFFFFFFF. */
function zip64(view: DataView, extra: number, extraEnd: number, fields: { size: number; compressed: number; offset: number }) {
  for (let at = extra; at + 4 <= extraEnd; at += 4 + view.getUint16(at + 2, true)) {
    if (view.getUint16(at, true) !== ZIP64_EXTRA) continue;
    let p = at + 4;
    const next = () => Number((p += 8, view.getBigUint64(p - 8, true)));
    return { size: fields.size === FULL32 ? next() : fields.size, compressed: fields.compressed === FULL32 ? next() : fields.compressed, offset: fields.offset === FULL32 ? next() : fields.offset };
  }
  return fields;
}

function members(view: DataView, source: string): Member[] {
  const end = endRecord(view, source);
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const out: Member[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > view.byteLength || view.getUint32(at, true) !== CENTRAL) throw corrupt(source, 'a broken zip directory');
    const [nameLen, extraLen, commentLen] = [view.getUint16(at + 28, true), view.getUint16(at + 30, true), view.getUint16(at + 32, true)];
    const name = Buffer.from(view.buffer, view.byteOffset + at + 46, nameLen).toString('utf8');
    const fields = zip64(view, at + 46 + nameLen, at + 46 + nameLen + extraLen, { size: view.getUint32(at + 24, true), compressed: view.getUint32(at + 20, true), offset: view.getUint32(at + 42, true) });
    out.push({ name, method: view.getUint16(at + 10, true), compressed: fields.compressed, localOffset: fields.offset });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function memberBytes(bytes: Uint8Array, view: DataView, m: Member, source: string): Uint8Array {
  if (m.localOffset + 30 > bytes.length || view.getUint32(m.localOffset, true) !== LOCAL) throw corrupt(source, `a broken entry '${m.name}'`);
  const start = m.localOffset + 30 + view.getUint16(m.localOffset + 26, true) + view.getUint16(m.localOffset + 28, true);
  const data = bytes.subarray(start, start + m.compressed);
  if (m.method === 0) return data;
  if (m.method === 8) return inflateRawSync(data);
  throw corrupt(source, `entry '${m.name}' uses zip compression method ${m.method}; only stored and deflated entries are read`);
}

/** Every array of an .npz archive by name (numpy's `.npy` suffix dropped), in the archive's order. */
export function decodeNpz(bytes: Uint8Array, source = 'archive'): Map<string, Tensor> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Tensor>();
  for (const m of members(view, source)) {
    const name = m.name.replace(/\.npy$/, '');
    out.set(name, decodeNpy(memberBytes(bytes, view, m, source), `${source}:${name}`));
  }
  return out;
}

export function readNpz(path: string): Map<string, Tensor> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new ImperaError('FILE_NOT_FOUND', `'${path}' does not exist or cannot be read`);
  }
  return decodeNpz(bytes, path);
}

interface ZipEntry {
  method: number;
  crc: number;
  compressed: number;
  size: number;
  nameLength: number;
}

/** The fields a member's local header (from byte 8) and its central directory record (from byte 10) share, in the same order. */
function writeEntry(b: Buffer, at: number, e: ZipEntry): void {
  b.writeUInt16LE(e.method, at);
  b.writeUInt32LE(e.crc, at + 6);
  b.writeUInt32LE(e.compressed, at + 10);
  b.writeUInt32LE(e.size, at + 14);
  b.writeUInt16LE(e.nameLength, at + 18);
}

/** A zip of `name.npy` members in the given order; `deflate` compresses as numpy.savez_compressed. */
export function encodeNpz(arrays: Record<string, Tensor>, deflate = false): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(arrays)) {
    const raw = encodeNpy(t);
    const data = deflate ? deflateRawSync(raw) : Buffer.from(raw);
    const file = Buffer.from(`${name}.npy`, 'utf8');
    const entry = { method: deflate ? 8 : 0, crc: crc32(raw), compressed: data.length, size: raw.length, nameLength: file.length };
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    writeEntry(head, 8, entry);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    writeEntry(central, 10, entry);
    central.writeUInt32LE(offset, 42);
    locals.push(head, file, data);
    centrals.push(central, file);
    offset += 30 + file.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(arrays).length, 8);
  end.writeUInt16LE(Object.keys(arrays).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
