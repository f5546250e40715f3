/**
 * Edge energy per inference: the device computing its part at its active power, plus the radio sending the cut
 * tensor. Radios follow the linear uplink power model of Huang et al. (MobiSys 2012), P = alpha * rate + beta,
 * held for the time the bytes take at that rate — so energy per byte falls as the rate grows.
 */
import { ImperaError } from '../errors.js';
import type { Device, Radio } from './catalog.js';

export interface EdgeEnergy {
  computeJ: number;
  radioJ: number;
  totalJ: number;
}

/** Energy of `ms` of computation at the device's active power, J. */
export function computeEnergyJ(device: Device, ms: number): number {
  if (!device.power) throw new ImperaError('CATALOG_INVALID', `device '${device.id}' has no power figures`, 'add power: { activeW } with its source to the catalog');
  return (device.power.activeW * ms) / 1000;
}

/** Energy to send `bytes` over the radio at `rateMbps` (default: its typical uplink rate), J. */
export function radioEnergyJ(radio: Radio, bytes: number, rateMbps = radio.uplinkMbps): number {
  const seconds = (bytes * 8) / (rateMbps * 1e6);
  return (radio.alphaWPerMbps * rateMbps + radio.betaW) * seconds;
}

/** Energy per byte sent, J/B, at `rateMbps`. */
export const radioJoulesPerByte = (radio: Radio, rateMbps = radio.uplinkMbps): number => radioEnergyJ(radio, 1, rateMbps);

/** What one inference costs the edge device: computing its part and sending what crosses the cut. */
export function edgeEnergy(device: Device, radio: Radio, work: { computeMs: number; bytesSent: number; rateMbps?: number }): EdgeEnergy {
  const computeJ = computeEnergyJ(device, work.computeMs);
  const radioJ = radioEnergyJ(radio, work.bytesSent, work.rateMbps);
  return { computeJ, radioJ, totalJ: computeJ + radioJ };
}
