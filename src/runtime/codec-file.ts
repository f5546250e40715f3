/** Reading the codec.json `impera split --codec` writes: what both ends need to turn wire tensors into bytes and back. */
import { z } from 'zod';
import type { FittedCodec } from '../codecs/fitted.js';
import { wireCodec, type WireDescription } from '../codecs/wire.js';
import { readConfigFile } from '../util/config.js';

const wireSchema = z.object({
  codec: z.string(),
  tensors: z.array(z.object({ tensor: z.string(), wire: z.string(), dtype: z.string(), rank: z.number().int(), channelAxis: z.number().int(), wireElements: z.number().int().positive(), bits: z.number().int().optional(), fp16: z.boolean().optional(), pcaK: z.number().int().optional() })),
});

/** Read a codec.json written by `impera split --codec`. */
export function readWireDescription(file: string): WireDescription {
  const description = readConfigFile(file, wireSchema, { what: 'codec description', code: 'BAD_CODEC', missingHint: 'pass the codec.json `impera split --codec` wrote', invalidHint: 'write it again with `impera split --codec`' });
  return description as WireDescription;
}

/** The codec a codec.json describes, able to pack and unpack wire bytes. */
export const loadWireCodec = (file: string): FittedCodec => wireCodec(readWireDescription(file));
