/**
 * Whether the kernel flow table (--map-size) held every flow of an interval,
 * and which size would have. When the table is full the kernel still counts a
 * new flow's packets, in the per-interface overflow counters, but not the flow
 * itself: how many flows did not fit is estimated from the overflow packets and
 * the packets per flow of the flows that did fit (an estimate that assumes the
 * two are alike). A full table is said on stderr, once a minute at most.
 */
import { FlowRecord } from './layout.gen.js';
import type { DirectionTotals } from './decode.js';

const MAX_MAP_SIZE = 1 << 24;
const WARN_EVERY_MS = 60_000;

/**
 * Memory one --map-size entry costs: the kernel's table has two epochs of two
 * slots per flow (at most half full, for short probe runs), the claimed-slot
 * lists one 8-byte element per flow and epoch, and the drain buffer one record.
 */
export const BYTES_PER_MAP_ENTRY = 2 * 2 * FlowRecord.size + 2 * 8 + FlowRecord.size;

/** The smallest power of two above n (at most the largest --map-size). */
export function mapSizeFor(n: number): number {
  let size = 1;
  while (size <= n && size < MAX_MAP_SIZE) size *= 2;
  return size;
}

export class TableFit {
  /** Flows of the latest interval that did not fit (estimated). */
  notFitted = 0;
  /** The --map-size that fits the busiest overflowing interval since start, 0 before any overflow. */
  suggestedMapSize = 0;
  private peak = 0;
  private lastWarned = -Infinity;

  constructor(
    private readonly mapSize: number,
    private readonly warn: (line: string) => void = (line) => { process.stderr.write(`${line}\n`); },
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One interval: its flow records and its per-interface totals (both directions). */
  add(flows: number, totals: Iterable<{ ingress: DirectionTotals; egress: DirectionTotals }>): void {
    let overflow = 0, fittedPackets = 0;
    for (const t of totals) {
      for (const d of [t.ingress, t.egress]) {
        overflow += d.overflowPackets;
        fittedPackets += d.packets - d.overflowPackets;
      }
    }
    if (overflow === 0) {
      this.notFitted = 0;
      return;
    }
    const packetsPerFlow = flows > 0 ? Math.max(1, fittedPackets / flows) : 1;
    this.notFitted = Math.max(1, Math.round(overflow / packetsPerFlow));
    this.peak = Math.max(this.peak, flows + this.notFitted);
    this.suggestedMapSize = mapSizeFor(this.peak);
    const t = this.now();
    if (t - this.lastWarned < WARN_EVERY_MS) return;
    this.lastWarned = t;
    const mb = Math.ceil(this.suggestedMapSize * BYTES_PER_MAP_ENTRY / 2 ** 20);
    this.warn(`flowlens: the kernel flow table is full: --map-size ${this.mapSize} held ${flows} flows of the last interval, ` +
      `about ${this.notFitted} more did not fit (their ${overflow} packets are in the totals, without addresses); ` +
      `set --map-size ${this.suggestedMapSize} (~${mb} MB of memory) to count every flow`);
  }
}
