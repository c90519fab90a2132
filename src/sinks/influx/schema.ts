/**
 * The InfluxDB schema (docs/influx.md) and the line-protocol points of one
 * write period. Series are bounded: per host, interfaces × 2 directions × 3
 * scopes of traffic, and per talker dimension at most seriesBudget keys plus
 * "other", which holds the rest, so that the parts always sum to the total.
 * The Grafana dashboards and their check (test/deploy) read these constants.
 */
import type { HostSample } from '../../system/host.js';
import { escape } from '@influxdata/influxdb-client';
import { BPF_ERROR_NAMES, type CollectorStatus } from '../../collector/index.js';
import { TALKER_DIMENSIONS, type TalkerDimension, type TrafficScope, type UpDown } from '../../flows/types.js';
import type { InfluxPrecision } from './config.js';
import type { Period } from './period.js';
import { OTHER_TAG, tagSafe } from './tags.js';
import { topN, type TalkerCounts } from '../../flows/talkers.js';

export const TRAFFIC = 'flowlens_traffic';
export const TALKERS = 'flowlens_talkers';
export const SERIES_FOLDED = 'flowlens_series_folded';
export const SESSIONS = 'flowlens_sessions';
export const HEALTH = 'flowlens_health';
export const MACHINE = 'flowlens_machine';
export const MACHINE_INTERFACE = 'flowlens_machine_interface';

export { OTHER_TAG } from './tags.js';

const BPF_ERROR_FIELDS = BPF_ERROR_NAMES.map((n) => `bpf_error_${n}` as const);

/** Every measurement with its tags and fields: what flowlens writes, and all it writes. */
export const SCHEMA = {
  [TRAFFIC]: {
    tags: ['host', 'iface', 'direction', 'scope'],
    fields: ['bytes', 'packets', 'bits_per_second', 'packets_per_second'],
  },
  [TALKERS]: {
    tags: ['host', 'dimension', 'key', 'label'],
    fields: ['bytes_up', 'bytes_down', 'bytes', 'packets_up', 'packets_down', 'packets', 'sessions', 'new_sessions'],
  },
  [SERIES_FOLDED]: {
    tags: ['host', 'dimension'],
    fields: ['folded', 'keys'],
  },
  [SESSIONS]: {
    tags: ['host'],
    fields: ['active', 'remotes', 'ended'],
  },
  [HEALTH]: {
    tags: ['host'],
    fields: ['interfaces', 'intervals', 'map_entries', 'map_fill', 'drain_ms',
      'overflow_packets', 'non_ip_packets', 'malformed_packets', 'bpf_errors', ...BPF_ERROR_FIELDS,
      'sink_points_written', 'sink_points_dropped', 'sink_bytes_dropped', 'sink_retries',
      'sink_buffered_points', 'sink_buffered_bytes'],
  },
  [MACHINE]: {
    tags: ['host'],
    fields: ['cpu_busy', 'load1', 'load5', 'load15', 'mem_total_bytes', 'mem_available_bytes', 'disk_size_bytes', 'disk_avail_bytes',
      'process_cpu_cores', 'process_resident_bytes'],
  },
  [MACHINE_INTERFACE]: {
    tags: ['host', 'iface'],
    fields: ['rx_bytes_per_second', 'tx_bytes_per_second', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped'],
  },
} as const;

export type Measurement = keyof typeof SCHEMA;

/** Tag values of flowlens_traffic. */
export const TRAFFIC_DIRECTIONS: readonly UpDown[] = ['up', 'down'];
/** Always written (zero when quiet); "unknown" (overflow, no addresses) only when it had traffic. */
export const TRAFFIC_SCOPES: readonly TrafficScope[] = ['internet', 'lan'];

/** The sink's own figures over the period, for flowlens_health. */
export interface SinkFigures {
  pointsWritten: number;
  pointsDropped: number;
  bytesDropped: number;
  retries: number;
  bufferedPoints: number;
  bufferedBytes: number;
}

/** Wall-clock ms (µs resolution) as a line-protocol timestamp in the given precision. */
export function toTimestamp(ms: number, precision: InfluxPrecision): string {
  const us = Math.round(ms * 1000);
  switch (precision) {
    case 's': return String(Math.floor(us / 1e6));
    case 'ms': return String(Math.floor(us / 1e3));
    case 'us': return String(us);
    case 'ns': return `${us}000`;
  }
}

/** A counter of the collector (since its start) over the period; a smaller value means a new collector. */
function delta(now: number, before: number | undefined): number {
  return before === undefined || now < before ? now : now - before;
}

// Line protocol is built here directly, with the client's escaping, rather than
// through its Point class: a Point sorts its tags and fields on every call, which
// made building the points the larger part of the writer's CPU (bench/influx.ts).
// Tags are given in key order and fields in name order, as Point would write them.

function int(name: string, v: number): string {
  if (!Number.isFinite(v)) throw new Error(`${name} is ${v}, not a number`);
  return `${name}=${Math.floor(v)}i`;
}

function float(name: string, v: number): string {
  if (!Number.isFinite(v)) throw new Error(`${name} is ${v}, not a number`);
  return `${name}=${v}`;
}

/** measurement,tag=value,... field=...,... timestamp; tags in key order, empty values left out. */
function line(measurement: string, tags: readonly (readonly [string, string | undefined])[], fields: string[], ts: string): string {
  let out = measurement;
  for (const [k, v] of tags) if (v) out += `,${k}=${escape.tag(tagSafe(v))}`;
  return `${out} ${fields.join(',')} ${ts}`;
}

/** The machine at a period's end (src/system/host.ts): one flowlens_machine point, one flowlens_machine_interface per interface. */
export function machineLines(m: HostSample, host: string, end: number, precision: InfluxPrecision): string[] {
  const ts = toTimestamp(end, precision);
  const lines = [line(MACHINE, [['host', host]], [
    float('cpu_busy', m.cpuBusy), int('disk_avail_bytes', m.disk?.availBytes ?? 0), int('disk_size_bytes', m.disk?.sizeBytes ?? 0),
    float('load1', m.load1), float('load15', m.load15), float('load5', m.load5),
    int('mem_available_bytes', m.memAvailableBytes), int('mem_total_bytes', m.memTotalBytes),
    float('process_cpu_cores', m.process.cpuShare), int('process_resident_bytes', m.process.residentBytes),
  ], ts)];
  for (const i of m.interfaces) {
    lines.push(line(MACHINE_INTERFACE, [['host', host], ['iface', i.name]], [
      int('rx_dropped', i.rxDropped), int('rx_errors', i.rxErrors), float('rx_bytes_per_second', i.rxBytesPerSecond),
      int('tx_dropped', i.txDropped), int('tx_errors', i.txErrors), float('tx_bytes_per_second', i.txBytesPerSecond),
    ].sort(), ts));
  }
  return lines;
}

export interface PeriodLines {
  lines: string[];
  /** Keys folded into "other" in this period, per dimension. */
  folded: Record<TalkerDimension, number>;
}

/**
 * The points of one period, all stamped with the period's end. `previous` is
 * the collector's status at the end of the previous period (undefined for the
 * first), for the health counters' increase over the period.
 */
export function periodLines(
  p: Period,
  opts: { host: string; seriesBudget: Record<TalkerDimension, number>; precision: InfluxPrecision; previous?: CollectorStatus; sink: SinkFigures },
): PeriodLines {
  const ts = toTimestamp(p.end, opts.precision);
  const seconds = (p.end - p.start) / 1000;
  const host = opts.host;
  const lines: string[] = [];

  const ifaces = new Set(p.ifaces);
  for (const t of p.traffic.values()) ifaces.add(t.iface);
  for (const iface of [...ifaces].sort()) {
    for (const direction of TRAFFIC_DIRECTIONS) {
      for (const scope of [...TRAFFIC_SCOPES, 'unknown' as const]) {
        const t = p.traffic.get(`${iface}\0${direction}\0${scope}`);
        if (!t && scope === 'unknown') continue;
        const bytes = t?.bytes ?? 0;
        const packets = t?.packets ?? 0;
        const fields = seconds > 0
          ? [float('bits_per_second', (bytes * 8) / seconds), int('bytes', bytes), int('packets', packets), float('packets_per_second', packets / seconds)]
          : [int('bytes', bytes), int('packets', packets)];
        lines.push(line(TRAFFIC, [['direction', direction], ['host', host], ['iface', iface], ['scope', scope]], fields, ts));
      }
    }
  }

  const folded = {} as Record<TalkerDimension, number>;
  for (const dim of TALKER_DIMENSIONS) {
    const sums = p.talkers[dim];
    const { top, rest: other } = topN(sums, opts.seriesBudget[dim]);
    // keys folded into "other", the keys already summed as "other" by the flows stage among them
    folded[dim] = sums.size - top.length;
    for (const [key, s] of [...top, [OTHER_TAG, other] as [string, TalkerCounts]]) {
      const label = key === OTHER_TAG ? undefined : s.label;
      lines.push(line(TALKERS, [['dimension', dim], ['host', host], ['key', key], ['label', label]], [
        int('bytes', s.bytesUp + s.bytesDown), int('bytes_down', s.bytesDown), int('bytes_up', s.bytesUp), int('new_sessions', s.newSessions),
        int('packets', s.packetsUp + s.packetsDown), int('packets_down', s.packetsDown), int('packets_up', s.packetsUp),
        float('sessions', p.coveredMs > 0 ? s.sessions / p.coveredMs : 0),
      ], ts));
    }
    lines.push(line(SERIES_FOLDED, [['dimension', dim], ['host', host]], [int('folded', folded[dim]), int('keys', sums.size)], ts));
  }

  lines.push(line(SESSIONS, [['host', host]], [int('active', p.activeSessions), int('ended', p.endedSessions), int('remotes', p.activeRemotes)], ts));

  const s = p.status;
  const prev = opts.previous;
  const health: string[] = [
    int('interfaces', s.attachments.length),
    int('intervals', p.intervals),
    int('map_entries', s.mapEntries),
    float('map_fill', p.maxMapFill),
    float('drain_ms', p.maxDrainMs),
    int('overflow_packets', delta(s.overflowPackets, prev?.overflowPackets)),
    int('non_ip_packets', delta(s.nonIpPackets, prev?.nonIpPackets)),
    int('malformed_packets', delta(s.malformedPackets, prev?.malformedPackets)),
  ];
  let bpfErrors = 0;
  BPF_ERROR_NAMES.forEach((name, i) => {
    const d = delta(s.bpfErrors[name] ?? 0, prev?.bpfErrors[name]);
    bpfErrors += d;
    health.push(int(BPF_ERROR_FIELDS[i], d));
  });
  health.push(
    int('bpf_errors', bpfErrors),
    int('sink_points_written', opts.sink.pointsWritten),
    int('sink_points_dropped', opts.sink.pointsDropped),
    int('sink_bytes_dropped', opts.sink.bytesDropped),
    int('sink_retries', opts.sink.retries),
    int('sink_buffered_points', opts.sink.bufferedPoints),
    int('sink_buffered_bytes', opts.sink.bufferedBytes),
  );
  lines.push(line(HEALTH, [['host', host]], health.sort(), ts));
  return { lines, folded };
}
