/**
 * Airtime on an 802.11n/ac (HT/VHT, 5 GHz) channel, from the standard's PPDU formulas (IEEE 802.11-2020 19.4.3
 * and 21.4.3): preamble plus OFDM symbols of the PSDU; MPDUs aggregated into A-MPDUs and acknowledged by one
 * compressed BlockAck; EDCA best-effort access (AIFS, slotted backoff). The contention process itself (who
 * sends when, collisions) is simulated in src/sim; this file only says how long each piece takes.
 */
import { FRAMING_BYTES } from './framing.js';

export interface WifiPhy {
  standard: '802.11n' | '802.11ac';
  /** Modulation and coding scheme: 0-7 (802.11n), 0-9 (802.11ac). */
  mcs: number;
  widthMHz: 20 | 40 | 80 | 160;
  spatialStreams: number;
  /** 400 ns guard interval instead of 800 ns. */
  shortGuard: boolean;
  /** Largest A-MPDU in bytes (65,535 is the HT limit and ns-3's default for best effort). */
  maxAmpduBytes: number;
}

export const SLOT_US = 9;
export const SIFS_US = 16;
/** Best-effort EDCA: AIFSN 3, CWmin 15, CWmax 1023. */
export const AIFS_US = SIFS_US + 3 * SLOT_US;
export const CW_MIN = 15;
export const CW_MAX = 1023;
/** Longest HT/VHT PPDU (aPPDUMaxTime). */
export const PPDU_MAX_US = 5484;
/** The Block Ack window: at most 64 MPDUs in flight per A-MPDU. */
export const MAX_MPDUS = 64;
/** Compressed BlockAck frame bytes, sent at the 24 Mb/s legacy basic rate. */
const BLOCK_ACK_BYTES = 32;
const BLOCK_ACK_REQUEST_BYTES = 24;
const MAC_OVERHEAD = FRAMING_BYTES.wifi;
const DELIMITER = 4;

const DATA_SUBCARRIERS: Record<WifiPhy['widthMHz'], number> = { 20: 52, 40: 108, 80: 234, 160: 468 };
/** Bits per subcarrier and coding rate of MCS 0-9. */
const MCS: readonly [number, number][] = [
  [1, 1 / 2],
  [2, 1 / 2],
  [2, 3 / 4],
  [4, 1 / 2],
  [4, 3 / 4],
  [6, 2 / 3],
  [6, 3 / 4],
  [6, 5 / 6],
  [8, 3 / 4],
  [8, 5 / 6],
];

/** Data bits per OFDM symbol. */
export function bitsPerSymbol(phy: WifiPhy): number {
  const [bpscs, rate] = MCS[phy.mcs]!;
  return DATA_SUBCARRIERS[phy.widthMHz] * bpscs * rate * phy.spatialStreams;
}

const symbolUs = (phy: WifiPhy) => (phy.shortGuard ? 3.6 : 4);

export const phyRateMbps = (phy: WifiPhy): number => bitsPerSymbol(phy) / symbolUs(phy);

/** The largest MCS a standard defines. */
export const maxMcs = (standard: WifiPhy['standard']): number => (standard === '802.11n' ? 7 : 9);

function preambleUs(phy: WifiPhy): number {
  const ltf = [1, 2, 4, 4, 6, 6, 8, 8][phy.spatialStreams - 1] ?? 8;
  // legacy L-STF + L-LTF + L-SIG (20 us), then HT-SIG + HT-STF + HT-LTFs, or VHT-SIG-A + VHT-STF + VHT-LTFs + VHT-SIG-B
  return phy.standard === '802.11n' ? 20 + 8 + 4 + 4 * Math.min(ltf, 4) : 20 + 8 + 4 + 4 * ltf + 4;
}

/** Duration of an HT/VHT PPDU carrying `psduBytes` (service 16 bits + tail 6 bits per BCC encoder). */
export function ppduUs(phy: WifiPhy, psduBytes: number): number {
  const ndbps = bitsPerSymbol(phy);
  const encoders = Math.ceil(phyRateMbps(phy) / (phy.standard === '802.11n' ? 300 : 600));
  const symbols = Math.ceil((16 + 8 * psduBytes + 6 * encoders) / ndbps);
  // with the short guard interval the data field is rounded up to whole 4 us long symbols
  const dataUs = phy.shortGuard ? 4 * Math.ceil((3.6 * symbols) / 4) : 4 * symbols;
  return preambleUs(phy) + dataUs;
}

/** A legacy (non-HT) OFDM PPDU at `mbps` (6-54), as control responses are sent. */
export function legacyPpduUs(mbps: number, bytes: number): number {
  const ndbps = mbps * 4;
  return 20 + 4 * Math.ceil((16 + 8 * bytes + 6) / ndbps);
}

export const blockAckUs = (): number => legacyPpduUs(24, BLOCK_ACK_BYTES);

/**
 * A BlockAckRequest exchange (BAR, SIFS, BlockAck): after a missed BlockAck the sender asks which MPDUs arrived
 * before resending (the standard's explicit recovery, and ns-3's default).
 */
export const blockAckRequestUs = (): number => legacyPpduUs(24, BLOCK_ACK_REQUEST_BYTES) + SIFS_US + blockAckUs();

/** Bytes of an IP packet as an A-MPDU subframe: delimiter + MAC header, LLC/SNAP, FCS (+ padding to 4 bytes). */
const subframeBytes = (ipBytes: number): number => DELIMITER + ipBytes + MAC_OVERHEAD;
const padded = (bytes: number): number => Math.ceil(bytes / 4) * 4;

/**
 * How many of the queued IP packets `sizes[from..]` go out in one A-MPDU (at least one), and its PSDU bytes:
 * limited by the A-MPDU size, the Block Ack window and the longest PPDU.
 */
export function aggregate(phy: WifiPhy, sizes: ArrayLike<number>, from: number, to: number): { count: number; psduBytes: number } {
  let count = 0;
  let bytes = 0; // every subframe but the last is padded
  for (let i = from; i < to && count < MAX_MPDUS; i++) {
    const next = padded(bytes) + subframeBytes(sizes[i]!);
    if (count > 0 && (next > phy.maxAmpduBytes || ppduUs(phy, next) > PPDU_MAX_US)) break;
    bytes = next;
    count++;
  }
  return { count, psduBytes: bytes };
}

/** Medium time of one successful exchange after access is won: the A-MPDU, SIFS and the BlockAck. */
export const exchangeUs = (phy: WifiPhy, psduBytes: number): number => ppduUs(phy, psduBytes) + SIFS_US + blockAckUs();

/**
 * Time to deliver IP packets of the given sizes from one station with no contention, from their arrival at an
 * idle station: the first A-MPDU goes at once (its backoff has long run out), each later one after AIFS and the
 * mean backoff (CWmin / 2 slots); the last packet has arrived when the last PPDU ends.
 */
export function uncontendedUs(phy: WifiPhy, sizes: readonly number[]): number {
  let t = 0;
  for (let i = 0; i < sizes.length; ) {
    const { count, psduBytes } = aggregate(phy, sizes, i, sizes.length);
    if (i > 0) t += SIFS_US + blockAckUs() + AIFS_US + (CW_MIN / 2) * SLOT_US;
    t += ppduUs(phy, psduBytes);
    i += count;
  }
  return t;
}
