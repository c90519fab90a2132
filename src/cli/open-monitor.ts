/**
 * Builds a Monitor from the configuration with every part it names: the
 * enrichers (geo, names) and the consumers (history store, InfluxDB writer).
 * A part that cannot start is a clear error before anything is attached.
 */
import type { FlowlensConfig } from '../config/index.js';
import { Monitor } from '../monitor.js';

export async function openMonitor(config: FlowlensConfig): Promise<Monitor> {
  return Monitor.open(config);
}
