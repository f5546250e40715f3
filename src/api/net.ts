/** `impera/net`: analytic link models: links and presets, bandwidth traces, TCP and UDP transfers, 802.11 timing, and the ns-3 backend. */
export { resolveLink, LINK_PRESETS, type Link, type LinkConfig } from '../net/link.js';
export { constantRate, traceRate, parseTrace, parseCsvTrace, parseMahimahiTrace, traceFormat, loadTrace, TRACE_FORMATS, MAHIMAHI_BIN_MS, MAHIMAHI_PACKET_BYTES, type Rate, type BandwidthTrace, type TraceFormat, type TraceOptions } from '../net/rate.js';
export { pathOf, type Path, type Direction } from '../net/path.js';
export { tcpConnection, tcpSend, TCP_DEFAULTS, type TcpOptions, type TcpConnection, type TransferOutcome } from '../net/tcp.js';
export { udpFlow, udpSend, udpFrameLossProbability, type UdpOptions } from '../net/udp.js';
export { resolveTransport, openFlow, drawTransfers, transferStats, type Transport, type Flow, type TransferStats } from '../net/transfer.js';
export { phyRateMbps, type WifiPhy } from '../net/wifi.js';
export { summarize, type Summary } from '../net/time-summary.js';
export { checkNs3, type Ns3Toolchain } from '../net/ns3/toolchain.js';
export { runP2p, runWifi, type P2pRequest, type WifiRequest, type Ns3Run, type WifiRun } from '../net/ns3/scenarios.js';
