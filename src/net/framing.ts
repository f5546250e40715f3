/**
 * What a payload costs on the wire: protocol headers per packet and how a frame is cut into packets. Sizes are
 * the standard ones (RFC 791 IPv4, RFC 793 TCP with the RFC 7323 timestamp option that Linux and ns-3 send on
 * every segment, RFC 768 UDP); link-layer framing is per medium.
 */

export const IPV4_HEADER = 20;
export const UDP_HEADER = 8;
export const TCP_HEADER = 20;
/** The timestamp option (10 bytes) padded to 12: present on every segment when timestamps are on. */
export const TCP_TIMESTAMP_OPTION = 12;
/** SYN and SYN-ACK carry MSS, SACK-permitted, timestamps and window scale: 20 option bytes (as Linux sends). */
export const TCP_SYN_OPTIONS = 20;

/**
 * Link-layer bytes added to every IP packet. `ethernet`: 14 header + 4 FCS + 8 preamble/SFD + 12 inter-frame gap
 * (all occupy the wire); `ppp`: the 2-byte protocol field ns-3's point-to-point device adds; `wifi`: 802.11 QoS
 * data header 26 + LLC/SNAP 8 + FCS 4 (airtime comes from the 802.11 model, see wifi.ts); `none`: rates quoted as
 * IP-level throughput (cellular uplink figures).
 */
export const FRAMING_BYTES = { ethernet: 38, ppp: 2, wifi: 38, none: 0 } as const;
export type Framing = keyof typeof FRAMING_BYTES;
export const FRAMINGS = Object.keys(FRAMING_BYTES) as Framing[];

/** Header bytes of one TCP data segment or pure ACK at the IP level. */
export const tcpHeaderBytes = (timestamps: boolean): number => IPV4_HEADER + TCP_HEADER + (timestamps ? TCP_TIMESTAMP_OPTION : 0);

/** The largest TCP payload in one IP packet of `mtu` bytes. */
export const tcpMss = (mtu: number, timestamps: boolean): number => mtu - tcpHeaderBytes(timestamps);

/** The largest UDP payload in one IP packet of `mtu` bytes (no IP fragmentation). */
export const udpMaxPayload = (mtu: number): number => mtu - IPV4_HEADER - UDP_HEADER;
