/**
 * Sends the buffer's points to InfluxDB's v2 write endpoint through
 * @influxdata/influxdb-client's transport (auth header, gzip, timeouts), one
 * batch at a time and oldest first, so a backlog arrives in order. Retries are
 * driven here rather than by the client's WriteApi: its retry buffer reorders
 * batches by retry time and has no byte cap, while this one keeps the batch at
 * the head of a bounded buffer and backs off until the server answers.
 */
import { HttpError, InfluxDB, type Transport } from '@influxdata/influxdb-client';
import type { InfluxPrecision, WriteTarget } from './config.js';
import type { LineBuffer } from './buffer.js';

export interface WriterOptions {
  precision: InfluxPrecision;
  gzip: boolean;
  batchSize: number;
  timeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Wall-clock ms, for lastSuccess/lastError. */
  clock: () => number;
}

/** Counters the writer and the sink share (the sink adds the buffer's drops). */
export interface WriteCounters {
  pointsWritten: number;
  bytesWritten: number;
  batchesWritten: number;
  pointsDropped: number;
  bytesDropped: number;
  retries: number;
  lastError?: { message: string; at: number };
  lastSuccess?: number;
}

type Outcome = 'written' | 'retry' | 'rejected';

/** Bodies above this many bytes are gzipped when gzip is on (below it gzip saves nothing worth the CPU). */
const GZIP_THRESHOLD = 1024;

export class InfluxWriter {
  private readonly transport: Transport;
  private readonly path: string;
  private running: Promise<void> | undefined;
  private request: AbortController | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;
  /** The server's Retry-After of the last failure (ms), 0 when it gave none. */
  private retryAfterMs = 0;
  /** Set by close(): no back-off beyond it, nothing sent after it. */
  private deadline = Infinity;
  private closed = false;

  constructor(private readonly target: WriteTarget, private readonly opts: WriterOptions,
    private readonly buffer: LineBuffer, private readonly counters: WriteCounters) {
    this.transport = new InfluxDB({ url: target.url, token: target.token, timeout: opts.timeoutMs }).transport;
    const q = new URLSearchParams();
    // InfluxDB 1.8 and 3 need no org; an empty org= would make InfluxDB 2 look for an org named ""
    if (target.org) q.set('org', target.org);
    q.set('bucket', target.bucket);
    q.set('precision', opts.precision);
    this.path = `/api/v2/write?${q.toString()}`;
  }

  /** Whether a retry is waiting for its back-off to pass. */
  get backingOff(): boolean {
    return this.wake !== undefined;
  }

  /** Starts sending what the buffer holds, unless a send or a back-off is under way. */
  kick(): void {
    if (this.running || this.closed) return;
    this.running = this.run()
      // run() handles every failure of a write itself; this is the last guard of write()'s promise never to throw
      .catch((e: unknown) => { this.counters.lastError = { message: `InfluxDB writer: ${(e as Error)?.message ?? String(e)}`, at: this.opts.clock() }; })
      .finally(() => { this.running = undefined; });
  }

  /**
   * Keeps sending until the buffer is empty or deadlineMs have passed; then
   * aborts what is in flight and returns what could not be written.
   */
  async close(deadlineMs: number): Promise<{ points: number; bytes: number }> {
    this.deadline = Date.now() + Math.max(0, deadlineMs);
    this.wake?.();
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadlineMs)); });
    await Promise.race([this.running ?? Promise.resolve(), expired]);
    clearTimeout(timer);
    this.closed = true;
    this.request?.abort();
    this.wake?.();
    await this.running;
    return this.buffer.clear();
  }

  private async run(): Promise<void> {
    while (!this.closed && Date.now() < this.deadline) {
      const batch = this.buffer.takeBatch(this.opts.batchSize);
      if (!batch) return;
      const outcome = await this.send(batch);
      if (this.closed) return;
      if (outcome === 'written') {
        const done = this.buffer.settle();
        this.counters.pointsWritten += done.points;
        this.counters.bytesWritten += done.bytes;
        this.counters.batchesWritten++;
        this.counters.lastSuccess = this.opts.clock();
        this.failures = 0;
      } else if (outcome === 'rejected') {
        const gone = this.buffer.settle();
        this.counters.pointsDropped += gone.points;
        this.counters.bytesDropped += gone.bytes;
      } else {
        this.counters.retries++;
        this.failures++;
        await this.sleep(this.retryDelay());
      }
    }
  }

  private retryDelay(): number {
    if (this.retryAfterMs > 0) return Math.min(this.opts.retryMaxMs, Math.max(this.opts.retryMinMs, this.retryAfterMs));
    const base = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(this.failures - 1, 30));
    // ±20 % so that many hosts do not retry against a recovering server in step
    const jittered = base * (0.8 + Math.random() * 0.4);
    return Math.min(this.opts.retryMaxMs, Math.max(this.opts.retryMinMs, jittered));
  }

  private sleep(ms: number): Promise<void> {
    const wait = Math.min(ms, Math.max(0, this.deadline - Date.now()));
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      timer.unref();
      function done() { clearTimeout(timer); resolve(); }
      this.wake = () => { this.wake = undefined; done(); };
    }).finally(() => { this.wake = undefined; });
  }

  private async send(batch: readonly string[]): Promise<Outcome> {
    const controller = new AbortController();
    this.request = controller;
    // the transport's socket timeout reports an error but leaves the socket open: abort it ourselves
    const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs);
    try {
      await this.transport.request(this.path, batch.join('\n'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        gzipThreshold: this.opts.gzip ? GZIP_THRESHOLD : undefined,
        signal: controller.signal,
      });
      return 'written';
    } catch (e) {
      if (this.closed) return 'retry'; // aborted by close(): the batch is counted as dropped there
      const retry = isRetriable(e);
      // Retry-After is in seconds (429 and 503 from InfluxDB Cloud and 2.x under load)
      this.retryAfterMs = e instanceof HttpError ? e.retryAfter() * 1000 : 0;
      this.counters.lastError = { message: this.describe(e, controller.signal.aborted), at: this.opts.clock() };
      return retry ? 'retry' : 'rejected';
    } finally {
      clearTimeout(timer);
      this.request = undefined;
    }
  }

  /** One line for status and logs, with the token scrubbed should a server echo it. */
  private describe(e: unknown, timedOut: boolean): string {
    const where = `InfluxDB at ${this.target.url}`;
    let text: string;
    if (timedOut) {
      text = `${where} did not answer within ${this.opts.timeoutMs} ms`;
    } else if (e instanceof HttpError) {
      const body = (e.body ?? e.message ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
      const hint = e.statusCode === 401 || e.statusCode === 403 ? ' (check influx.token)'
        : e.statusCode === 404 ? ' (check influx.org and influx.bucket)'
          : e.statusCode === 413 ? ' (lower influx.batchSize)' : '';
      text = `${where} answered HTTP ${e.statusCode}${hint}${body ? `: ${body}` : ''}`;
    } else {
      const err = e as NodeJS.ErrnoException;
      text = `cannot write to ${where}: ${err?.code ?? err?.message ?? String(e)}`;
    }
    const token = this.target.token;
    return token ? text.split(token).join('<token>') : text;
  }
}

/**
 * Whether sending the same batch again can succeed: not when the server
 * refused its content (400, 413, 422: the data or its size), yes for anything
 * else (network, timeouts, 5xx, 429, and 401/403/404, which an operator can fix
 * while the buffer holds the points).
 */
export function isRetriable(e: unknown): boolean {
  if (e instanceof HttpError) {
    const s = e.statusCode;
    if (s >= 500 || s === 429 || s === 408 || s === 401 || s === 403 || s === 404) return true;
    return s < 400;
  }
  return true;
}
