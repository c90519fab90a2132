/**
 * The parts of a running flowlens (collector, flows, API, history, InfluxDB
 * writer, geo) share one lifecycle: built inert from (config, dependencies) —
 * no I/O, nothing opened — then started in order and stopped in reverse.
 * Components is the one runner that does it, so the stop order is code, not a
 * comment, and a part that fails to start stops the ones started before it.
 */

/** One part with a lifecycle. start() opens what it needs (files, ports, the kernel); stop() releases it. */
export interface Component {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

export class Components {
  /** The started ones, in start order. */
  private readonly started: Component[] = [];

  /**
   * @param parts in start order: a part may use the ones before it, and is stopped before them.
   * @param onStopError a part that fails to stop is reported here; the others still stop.
   */
  constructor(private readonly parts: readonly Component[], private readonly onStopError: (part: Component, e: unknown) => void) {}

  /** Starts every part in order; if one fails, stops those already started (in reverse) and throws its error. */
  async start(): Promise<void> {
    for (const part of this.parts) {
      try {
        await part.start();
      } catch (e) {
        await this.stop();
        throw e;
      }
      this.started.push(part);
    }
  }

  /** Stops the started parts, last started first. */
  async stop(): Promise<void> {
    for (let part = this.started.pop(); part; part = this.started.pop()) {
      try {
        await part.stop();
      } catch (e) {
        this.onStopError(part, e);
      }
    }
  }
}
