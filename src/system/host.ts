/**
 * The machine flowlens runs on, as a person checking a gateway or NAS looks at
 * it: CPU (all cores, and flowlens's own), memory, load, the data directory's
 * filesystem, and every network interface's kernel counters. Read from /proc,
 * /sys and statfs — a few small files — when someone asks (status, /metrics,
 * the InfluxDB period; `recent()` hands a reading younger than REUSE_MS out
 * again), with rates over the time since an earlier reading at least
 * MIN_RATE_MS old.
 *
 * The counters keep node_exporter's meaning (and /metrics uses its names), so
 * existing Grafana panels work on flowlens's series.
 */
import fs from 'node:fs';
import os from 'node:os';
import { readLinkCounters } from './link-counters.js';

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

export interface HostInterface {
  name: string;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
  /** Bytes per second since the earlier reading (0 on the first). */
  rxBytesPerSecond: number;
  txBytesPerSecond: number;
}

export interface HostSample {
  at: number;
  cpus: number;
  /** Seconds all CPUs together spent per mode since boot. */
  cpuSeconds: CpuSeconds;
  /** The same per CPU ("0", "1", ...): node_cpu_seconds_total{cpu, mode}. */
  perCpu: Array<{ cpu: string; seconds: CpuSeconds }>;
  /** Busy share of all CPUs since the earlier reading, 0..1. */
  cpuBusy: number;
  load1: number;
  load5: number;
  load15: number;
  memTotalBytes: number;
  memAvailableBytes: number;
  /** The data directory's filesystem (null: no data directory, or it cannot be read). */
  disk: { path: string; sizeBytes: number; availBytes: number } | null;
  interfaces: HostInterface[];
  /** flowlens itself. */
  process: { cpuSeconds: number; cpuShare: number; residentBytes: number; heapBytes: number };
}

export type CpuSeconds = Record<(typeof CPU_MODES)[number], number>;

/** Rates need a span: readings closer together than this reuse the earlier base. */
const MIN_RATE_MS = 1000;
/**
 * How old a reading `recent()` may hand out again. The status API, /metrics
 * and the InfluxDB period all ask for the machine; a dashboard or a probe may
 * ask many times a second, and each reading is ~1–2 ms of the event loop on a
 * busy gateway (more with many interfaces: nine files each).
 */
export const REUSE_MS = 1000;

interface Base { at: number; cpuTotal: number; cpuIdle: number; processCpu: number; ifaces: Map<string, { rx: number; tx: number }> }

export class HostSampler {
  /** The latest kept reading, and the one kept before it (at least MIN_RATE_MS older). */
  private latest: Base | null = null;
  private older: Base | null = null;
  /** USER_HZ: /proc/stat counts in ticks of 1/100 s on every Linux flowlens runs on. */
  private readonly tick = 0.01;
  private last: HostSample | null = null;

  constructor(private readonly dataDir: string | undefined, private readonly sysRoot = '/sys/class/net', private readonly procRoot = '/proc') {}

  /** The latest reading if it is younger than REUSE_MS, else a new one. Callers must not change it. */
  recent(now = Date.now()): HostSample {
    const last = this.last;
    if (last && now >= last.at && now - last.at < REUSE_MS) return last;
    return this.sample(now);
  }

  sample(now = Date.now()): HostSample {
    const { all: cpuSeconds, perCpu } = this.cpu();
    const cpuTotal = CPU_MODES.reduce((a, m) => a + cpuSeconds[m], 0);
    const cpuIdle = cpuSeconds.idle + cpuSeconds.iowait;
    const [load1 = 0, load5 = 0, load15 = 0] = this.read('loadavg').split(/\s+/).map(Number);
    const mem = this.meminfo();
    const usage = process.cpuUsage();
    const processCpu = (usage.user + usage.system) / 1e6;
    const interfaces = this.interfaces();
    const current: Base = { at: now, cpuTotal, cpuIdle, processCpu, ifaces: new Map(interfaces.map((i) => [i.name, { rx: i.rxBytes, tx: i.txBytes }])) };
    // rates over at least MIN_RATE_MS: readings asked for in quick succession share an older base
    const candidate = this.latest && now - this.latest.at >= MIN_RATE_MS ? this.latest : this.older ?? this.latest;
    const base = candidate && now > candidate.at ? candidate : null;
    const seconds = base ? (now - base.at) / 1000 : 0;
    const cpuBusy = base && cpuTotal > base.cpuTotal ? 1 - (cpuIdle - base.cpuIdle) / (cpuTotal - base.cpuTotal) : 0;
    for (const i of interfaces) {
      const b = base?.ifaces.get(i.name);
      if (b && seconds > 0) {
        i.rxBytesPerSecond = Math.max(0, (i.rxBytes - b.rx) / seconds);
        i.txBytesPerSecond = Math.max(0, (i.txBytes - b.tx) / seconds);
      }
    }
    if (!this.latest || now - this.latest.at >= MIN_RATE_MS) {
      this.older = this.latest;
      this.latest = current;
    }
    const memory = process.memoryUsage();
    return (this.last = {
      at: now,
      cpus: os.cpus().length,
      cpuSeconds,
      perCpu,
      cpuBusy: Math.min(1, Math.max(0, cpuBusy)),
      load1, load5, load15,
      memTotalBytes: mem.MemTotal ?? 0,
      memAvailableBytes: mem.MemAvailable ?? mem.MemFree ?? 0,
      disk: this.disk(),
      interfaces,
      process: {
        cpuSeconds: processCpu,
        cpuShare: base && seconds > 0 ? Math.max(0, (processCpu - base.processCpu) / seconds) : 0,
        residentBytes: memory.rss,
        heapBytes: memory.heapUsed,
      },
    });
  }

  private read(file: string): string {
    try {
      return fs.readFileSync(`${this.procRoot}/${file}`, 'utf8');
    } catch {
      return '';
    }
  }

  /** The cpu lines of /proc/stat: ticks per mode, as seconds, over all CPUs ("cpu") and per CPU ("cpu0", ...). */
  private cpu(): { all: CpuSeconds; perCpu: Array<{ cpu: string; seconds: CpuSeconds }> } {
    const seconds = (line: string): CpuSeconds => {
      const ticks = line.trim().split(/\s+/).slice(1).map(Number);
      const out = {} as CpuSeconds;
      CPU_MODES.forEach((m, i) => { out[m] = (ticks[i] ?? 0) * this.tick; });
      return out;
    };
    let all = seconds('');
    const perCpu: Array<{ cpu: string; seconds: CpuSeconds }> = [];
    for (const l of this.read('stat').split('\n')) {
      if (l.startsWith('cpu ')) all = seconds(l);
      else if (/^cpu\d+ /.test(l)) perCpu.push({ cpu: l.slice(3, l.indexOf(' ')), seconds: seconds(l) });
    }
    return { all, perCpu };
  }

  /** /proc/meminfo in bytes. */
  private meminfo(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.read('meminfo').split('\n')) {
      const m = /^(\w+):\s+(\d+)(?:\s+kB)?/.exec(l);
      if (m) out[m[1]!] = Number(m[2]) * (l.includes('kB') ? 1024 : 1);
    }
    return out;
  }

  private disk(): HostSample['disk'] {
    if (!this.dataDir) return null;
    try {
      const s = fs.statfsSync(this.dataDir);
      return { path: this.dataDir, sizeBytes: s.blocks * s.bsize, availBytes: s.bavail * s.bsize };
    } catch {
      return null;
    }
  }

  private interfaces(): HostInterface[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.sysRoot).filter((n) => n !== 'lo').sort();
    } catch {
      return [];
    }
    return names.map((name) => {
      const c = readLinkCounters(name, this.sysRoot);
      return {
        name,
        rxBytes: c?.rxBytes ?? 0, txBytes: c?.txBytes ?? 0,
        rxPackets: c?.rxPackets ?? 0, txPackets: c?.txPackets ?? 0,
        rxErrors: c?.rxErrors ?? 0, txErrors: c?.txErrors ?? 0,
        rxDropped: c?.rxDropped ?? 0, txDropped: c?.txDropped ?? 0,
        rxBytesPerSecond: 0, txBytesPerSecond: 0,
      };
    });
  }
}
