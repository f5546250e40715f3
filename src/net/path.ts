/**
 * One direction of a link as transports see it: the data rate, the rate the reverse direction (ACKs, NACKs)
 * travels at, one-way delay and jitter, loss, MTU and the link-layer bytes per packet.
 */
import { FRAMING_BYTES } from './framing.js';
import type { Link } from './link.js';
import type { Rate } from './rate.js';

export interface Path {
  rate: Rate;
  reverse: Rate;
  delayMs: number;
  jitterMs: number;
  loss: number;
  mtu: number;
  /** Link-layer bytes per packet (framing). */
  l2Bytes: number;
}

export type Direction = 'up' | 'down';

export function pathOf(link: Link, direction: Direction): Path {
  const up = direction === 'up';
  return {
    rate: up ? link.up : link.down,
    reverse: up ? link.down : link.up,
    delayMs: link.delayMs,
    jitterMs: link.jitterMs,
    loss: up ? link.loss : link.downLoss,
    mtu: link.mtu,
    l2Bytes: FRAMING_BYTES[link.framing],
  };
}

/**
 * When a frame whose last bit left at `sentMs` has arrived: one-way delay, plus jitter uniform in
 * [-jitter, +jitter] (netem's default) when there is a random source; never before it was sent.
 */
export function arrivalMs(path: Path, sentMs: number, rand: (() => number) | null): number {
  const jitter = rand && path.jitterMs > 0 ? (2 * rand() - 1) * path.jitterMs : 0;
  return sentMs + Math.max(0, path.delayMs + jitter);
}
