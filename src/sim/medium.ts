/**
 * A shared medium: many stations (the devices, and the access point or server side sending results) take turns
 * on one channel. Time on the channel is simulated in transmission opportunities (TXOPs): a station wins
 * access and sends a burst of queued packets.
 *
 * Wi-Fi (802.11 EDCA, best effort): each station counts down a random backoff in 9 us slots after the medium has
 * been idle for AIFS, frozen while it is busy; the first to reach zero sends an A-MPDU (src/net/wifi.ts sizes
 * it) and gets a BlockAck; stations reaching zero in the same slot collide, double their contention window and
 * retry (after 7 collisions the burst is dropped). A station keeps counting down with an empty queue
 * (post-backoff), so a frame arriving at a station whose backoff has expired goes out after AIFS alone.
 * MPDUs lost on the air (the link's loss rate) are retried by the MAC up to 7 times.
 *
 * Wired (any other shared link): no contention overhead; backlogged stations are served in turn, one burst of
 * up to 64 packets / 64 KB each, at the link's rate; lost packets are not retried.
 */
import { ImperaError } from '../errors.js';
import { FRAMING_BYTES, udpMaxPayload } from '../net/framing.js';
import type { Link } from '../net/link.js';
import type { Transport } from '../net/transfer.js';
import { udpIpSizes } from '../net/udp.js';
import { aggregate, AIFS_US, blockAckRequestUs, blockAckUs, CW_MAX, CW_MIN, exchangeUs, SIFS_US, SLOT_US, type WifiPhy } from '../net/wifi.js';

const RETRY_LIMIT = 7;
const WIRED_BURST_PACKETS = 64;
const WIRED_BURST_BYTES = 65536;
const US = 1e-3; // ms per us

/** The packets of a UDP transfer of `bytes` on a shared medium (the medium carries datagrams only). */
export function sharedMediumPackets(bytes: number, mtu: number, transport: Transport): { sizes: number[]; needed: number } {
  if (transport.protocol !== 'udp') throw new ImperaError('BAD_SCENARIO', 'a shared medium is simulated for UDP only (TCP over a contended cell is not modelled by the analytic and des backends)', 'set transport.protocol: udp, or run --backend ns3 for TCP over Wi-Fi');
  return udpIpSizes(bytes, transport.udp.payloadBytes ?? udpMaxPayload(mtu), transport.udp.fec);
}

/** How the medium reports back to the simulator. */
export interface MediumHost {
  rand: () => number;
  schedule(timeMs: number, kind: 'access' | 'end', subject: number): void;
  /** A transfer's packets have all arrived (ok) or too many were dropped (not ok). */
  transferDone(transfer: number, timeMs: number, ok: boolean): void;
}

interface Station {
  transfer: number[];
  size: number[];
  tries: number[];
  head: number;
  /** When the queue last became non-empty. */
  backlogSince: number;
  /** Backoff slots left, counted from the start of the current idle period (after AIFS). */
  counter: number;
  cw: number;
  collisions: number;
  /** Its last A-MPDU collided: the next access is a BlockAckRequest exchange. */
  blockAckRequest: boolean;
}

interface TransferProgress {
  needed: number;
  total: number;
  delivered: number;
  dropped: number;
}

export interface MediumStats {
  busyMs: number;
  packets: number;
  lostPackets: number;
}

export class SharedMedium {
  readonly stats: MediumStats = { busyMs: 0, packets: 0, lostPackets: 0 };
  private readonly stations: Station[];
  private readonly transfers = new Map<number, TransferProgress>();
  private readonly wifi: WifiPhy | undefined;
  private busy = false;
  private idleSince = 0;
  private epoch = 0;
  private lastWinner = -1;
  /** Stations sending in the current TXOP, with how many packets each. */
  private sending: { station: number; count: number }[] = [];
  private collided = false;
  /** When the current TXOP's packets arrive. */
  private arrival = 0;

  constructor(
    private readonly link: Link,
    stations: number,
    private readonly host: MediumHost,
  ) {
    this.wifi = link.wifi;
    this.stations = Array.from({ length: stations }, () => ({ transfer: [], size: [], tries: [], head: 0, backlogSince: 0, counter: this.drawBackoff(CW_MIN), cw: CW_MIN, collisions: 0, blockAckRequest: false }));
  }

  /**
   * Queue a transfer's IP packets at a station (`transfer` is the caller's id for it); it is done when `needed`
   * of them have arrived.
   */
  enqueue(now: number, station: number, transfer: number, sizes: readonly number[], needed: number): void {
    const s = this.stations[station]!;
    if (s.head === s.transfer.length) {
      s.transfer.length = s.size.length = s.tries.length = s.head = 0;
      s.backlogSince = now;
      // a frame meeting a busy medium with the backoff already run out draws a new backoff (802.11 10.23.2)
      if (this.wifi && this.busy && s.counter === 0) s.counter = this.drawBackoff(s.cw);
    }
    for (const size of sizes) {
      s.transfer.push(transfer);
      s.size.push(size);
      s.tries.push(0);
    }
    this.transfers.set(transfer, { needed, total: sizes.length, delivered: 0, dropped: 0 });
    if (!this.busy) this.scheduleAccess();
  }

  /** Handle an event the medium scheduled. */
  handle(now: number, kind: 'access' | 'end', subject: number): void {
    if (kind === 'end') this.endTxop(now);
    else if (subject === this.epoch && !this.busy) this.startTxop(now);
  }

  utilisation(durationMs: number): number {
    return durationMs > 0 ? this.stats.busyMs / durationMs : 0;
  }

  private drawBackoff(cw: number): number {
    return Math.floor(this.host.rand() * (cw + 1));
  }

  private attemptAt(s: Station): number {
    if (!this.wifi) return Math.max(s.backlogSince, this.idleSince);
    return Math.max(s.backlogSince, this.idleSince + (AIFS_US + s.counter * SLOT_US) * US);
  }

  private scheduleAccess(): void {
    let best = Infinity;
    for (const s of this.stations) if (s.head < s.transfer.length) best = Math.min(best, this.attemptAt(s));
    if (best === Infinity) return;
    this.epoch++;
    this.host.schedule(best, 'access', this.epoch);
  }

  private startTxop(now: number): void {
    const eps = 1e-9;
    const contenders: number[] = [];
    this.stations.forEach((s, i) => {
      if (s.head < s.transfer.length && this.attemptAt(s) <= now + eps) contenders.push(i);
    });
    if (contenders.length === 0) return this.scheduleAccess();
    // everyone else's backoff ran during the idle slots up to now
    if (this.wifi) {
      const idleSlots = Math.floor((now - this.idleSince - AIFS_US * US) / (SLOT_US * US) + eps);
      if (idleSlots > 0) for (const s of this.stations) s.counter = Math.max(0, s.counter - idleSlots);
    }
    const winners = this.wifi ? contenders : [this.roundRobin(contenders)];
    this.busy = true;
    this.collided = winners.length > 1;
    this.sending = winners.map((station) => ({ station, count: this.burst(this.stations[station]!).count }));
    const { durationMs, arrivalMs } = this.burstMs(now, winners);
    this.arrival = now + arrivalMs + this.link.delayMs;
    this.stats.busyMs += durationMs;
    this.host.schedule(now + durationMs, 'end', 0);
  }

  private roundRobin(contenders: number[]): number {
    const next = contenders.find((i) => i > this.lastWinner) ?? contenders[0]!;
    this.lastWinner = next;
    return next;
  }

  private burst(s: Station): { count: number; bytes: number } {
    if (s.blockAckRequest) return { count: 0, bytes: 0 };
    if (this.wifi) {
      const { count, psduBytes } = aggregate(this.wifi, s.size, s.head, s.transfer.length);
      return { count, bytes: psduBytes };
    }
    let count = 0;
    let bytes = 0;
    for (let i = s.head; i < s.transfer.length && count < WIRED_BURST_PACKETS; i++) {
      if (count > 0 && bytes + s.size[i]! > WIRED_BURST_BYTES) break;
      bytes += s.size[i]! + FRAMING_BYTES[this.link.framing];
      count++;
    }
    return { count, bytes };
  }

  /** How long the TXOP holds the medium, and when its packets have arrived (the PPDU's end, before the BlockAck). */
  private burstMs(now: number, winners: number[]): { durationMs: number; arrivalMs: number } {
    if (!this.wifi) {
      const ms = this.link.up.finish(now, this.burst(this.stations[winners[0]!]!).bytes * 8) - now;
      return { durationMs: ms, arrivalMs: ms };
    }
    const us = winners.map((w) => {
      const s = this.stations[w]!;
      return s.blockAckRequest ? blockAckRequestUs() : exchangeUs(this.wifi!, this.burst(s).bytes);
    });
    // a collision lasts as long as the longest PPDU, then the senders' BlockAck timeout
    const durationMs = (winners.length > 1 ? Math.max(...us) : us[0]!) * US;
    return { durationMs, arrivalMs: durationMs - (SIFS_US + blockAckUs()) * US };
  }

  private endTxop(now: number): void {
    this.busy = false;
    this.idleSince = now;
    const arrival = this.arrival;
    for (const { station, count } of this.sending) {
      const s = this.stations[station]!;
      if (this.collided) {
        s.cw = Math.min(2 * s.cw + 1, CW_MAX);
        s.counter = this.drawBackoff(s.cw);
        s.blockAckRequest = true;
        if (++s.collisions > RETRY_LIMIT) this.dropHead(s, count, now);
        continue;
      }
      s.collisions = 0;
      s.cw = CW_MIN;
      s.counter = this.drawBackoff(CW_MIN);
      if (s.blockAckRequest) s.blockAckRequest = false;
      else this.deliverHead(s, count, arrival);
    }
    this.sending = [];
    this.scheduleAccess();
  }

  /** The burst got through: each packet arrived, or was lost on the air (Wi-Fi retries it at the head). */
  private deliverHead(s: Station, count: number, arrival: number): void {
    const loss = this.link.loss;
    const retry: number[] = [];
    for (let i = s.head; i < s.head + count; i++) {
      this.stats.packets++;
      if (loss > 0 && this.host.rand() < loss) {
        this.stats.lostPackets++;
        if (this.wifi && ++s.tries[i]! <= RETRY_LIMIT) retry.push(i);
        else this.packetDone(s.transfer[i]!, arrival, false);
        continue;
      }
      this.packetDone(s.transfer[i]!, arrival, true);
    }
    // failed MPDUs stay at the head of the queue, in order
    const end = s.head + count;
    for (let j = retry.length - 1; j >= 0; j--) {
      const i = retry[j]!;
      const at = end - (retry.length - j);
      s.transfer[at] = s.transfer[i]!;
      s.size[at] = s.size[i]!;
      s.tries[at] = s.tries[i]!;
    }
    s.head = end - retry.length;
    this.resetIfEmpty(s);
  }

  private dropHead(s: Station, count: number, now: number): void {
    for (let i = s.head; i < s.head + count; i++) {
      this.stats.lostPackets++;
      this.packetDone(s.transfer[i]!, now, false);
    }
    s.head += count;
    s.collisions = 0;
    s.cw = CW_MIN;
    s.blockAckRequest = false;
    this.resetIfEmpty(s);
  }

  private resetIfEmpty(s: Station): void {
    if (s.head === s.transfer.length) s.transfer.length = s.size.length = s.tries.length = s.head = 0;
  }

  private packetDone(transfer: number, time: number, ok: boolean): void {
    const f = this.transfers.get(transfer);
    if (!f) return; // already decided (FEC had enough, or too much was lost)
    if (ok) f.delivered++;
    else f.dropped++;
    if (f.delivered >= f.needed || f.total - f.dropped < f.needed) {
      this.transfers.delete(transfer);
      this.host.transferDone(transfer, time, f.delivered >= f.needed);
    }
  }
}
