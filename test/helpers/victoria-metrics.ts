/**
 * A real server that speaks the InfluxDB v2 write API, for tests: Debian's
 * victoria-metrics on a free loopback port with its data in a temporary
 * directory. It can be stopped and started again on the same port and data
 * (an outage). A line-protocol field becomes the metric
 * `<measurement>_<field>{tags}`; read back with export() or query().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const VICTORIA_METRICS = '/usr/bin/victoria-metrics';

export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** A port nobody listens on now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class VictoriaMetrics {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(readonly port: number, readonly dataDir: string, private readonly extraArgs: string[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts a server with an empty data directory; stop it with destroy() (t.teardown).
   * extraArgs: more flags, e.g. -httpAuth.username=... (then only Basic auth is accepted).
   */
  static async start(extraArgs: string[] = []): Promise<VictoriaMetrics> {
    const vm = new VictoriaMetrics(await freePort(), mkdtempSync(path.join(os.tmpdir(), 'flowlens-vm-')), extraArgs);
    await vm.resume();
    return vm;
  }

  /** Starts (again) on the same port and data directory. */
  async resume(): Promise<void> {
    if (this.child) throw new Error('victoria-metrics is already running');
    this.log = '';
    const child = spawn(VICTORIA_METRICS, [
      `-storageDataPath=${this.dataDir}`,
      `-httpListenAddr=127.0.0.1:${this.port}`,
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-retentionPeriod=100y',
      '-loggerLevel=ERROR',
      ...this.extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => { this.log += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { this.log += d.toString(); });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.child = undefined;
        throw new Error(`victoria-metrics exited at start: ${this.log}`);
      }
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.ok) return;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`victoria-metrics did not start within 20 s: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server (SIGTERM to its PID) and waits until it has exited; the data stays. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Makes written points visible to reads. */
  async flush(): Promise<void> {
    const r = await fetch(`${this.url}/internal/force_flush`);
    if (!r.ok) throw new Error(`force_flush: HTTP ${r.status}`);
  }

  /** Every sample of the series matching a selector (e.g. `{__name__=~"flowlens_.*"}`), after a flush. */
  async export(match = '{__name__=~".+"}'): Promise<ExportedSeries[]> {
    await this.flush();
    // an explicit end: by default the export ends at "now" and leaves out points stamped this very moment
    const body = new URLSearchParams({ 'match[]': match, start: '0', end: String(Math.floor(Date.now() / 1000) + 3600) });
    const r = await fetch(`${this.url}/api/v1/export`, { method: 'POST', body });
    if (!r.ok) throw new Error(`export: HTTP ${r.status} ${await r.text()}`);
    const text = await r.text();
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as ExportedSeries);
  }

  /** A PromQL instant query at `timeMs`; returns [labels, value] pairs. */
  async query(promql: string, timeMs: number): Promise<{ metric: Record<string, string>; value: number }[]> {
    await this.flush();
    const body = new URLSearchParams({ query: promql, time: String(timeMs / 1000) });
    const r = await fetch(`${this.url}/api/v1/query`, { method: 'POST', body });
    const json = await r.json() as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (json.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(json)}`);
    return json.data.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
  }
}
