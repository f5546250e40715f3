/** Reading the codec.json `impera split --codec` writes: what both ends need to turn wire tensors into bytes and back. */
import { z } from 'zod';
import { ImperaError } from '../errors.js';
import type { FittedCodec } from '../codecs/fitted.js';
import { wireCodec, type WireDescription } from '../export/codec.js';
import { readUserFile, zodMessage } from '../util/config.js';

const wireSchema = z.object({
  codec: z.string(),
  tensors: z.array(z.object({ tensor: z.string(), wire: z.string(), dtype: z.string(), rank: z.number().int(), channelAxis: z.number().int(), wireElements: z.number().int().positive(), bits: z.number().int().optional(), fp16: z.boolean().optional(), pcaK: z.number().int().optional() })),
});

/** Read a codec.json written by `impera split --codec`. */
export function readWireDescription(file: string): WireDescription {
  const text = readUserFile(file, 'codec description', 'pass the codec.json `impera split --codec` wrote');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ImperaError('BAD_CODEC', `'${file}' is not valid JSON (${(e as Error).message})`, 'write it again with `impera split --codec`');
  }
  const parsed = wireSchema.safeParse(raw);
  if (!parsed.success) throw new ImperaError('BAD_CODEC', `'${file}' is not a codec description: ${zodMessage('', parsed.error)}`, 'write it again with `impera split --codec`');
  return parsed.data as WireDescription;
}

/** The codec a codec.json describes, able to pack and unpack wire bytes. */
export const loadWireCodec = (file: string): FittedCodec => wireCodec(readWireDescription(file));
