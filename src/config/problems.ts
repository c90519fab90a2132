/**
 * Collects the usage errors of a configuration, so that one run of
 * `flowlens config --check` (or a failed start) names every wrong setting, not
 * only the first: one problem is thrown as it is, several as one error that
 * lists them, one per line.
 */
import { FlowlensError } from '../errors.js';

export class Problems {
  private readonly found: FlowlensError[] = [];

  /** Runs fn; a usage error it throws is kept, anything else is thrown on. */
  check<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof FlowlensError) || e.code !== 'FLOW_ERR_USAGE') throw e;
      this.found.push(e);
      return undefined;
    }
  }

  add(message: string, hint?: string): void {
    this.found.push(new FlowlensError('FLOW_ERR_USAGE', message, hint));
  }

  get count(): number {
    return this.found.length;
  }

  throwIfAny(): void {
    if (this.found.length === 1) throw this.found[0];
    if (this.found.length > 1) {
      const lines = this.found.map((e) => `  ${e.message}${e.hint ? ` — ${e.hint}` : ''}`);
      throw new FlowlensError('FLOW_ERR_USAGE', `${this.found.length} settings are wrong:\n${lines.join('\n')}`,
        'fix them all, then check again with flowlens config --check');
    }
  }
}
