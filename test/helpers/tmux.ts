/** tmux for tests that read a real terminal's screen (the live view, the demo). */
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';

/** A tmux server of our own (its own socket), removed at teardown. */
export class Tmux {
  private readonly socket = `flowlens-test-${process.pid}`;
  constructor(t: Test) {
    t.teardown(() => { try { this.tmux(['kill-server']); } catch { /* not started, or gone */ } });
  }

  tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Runs the command in a new session; its exit status is printed after it, as "[exit N]". */
  start(name: string, width: number, height: number, command: string[]): void {
    this.tmux(['new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), 'sh', '-c', '"$@"; echo "[exit $?]"', 'sh', ...command]);
    // the pane stays after the command exits, so the restored screen can be read
    this.tmux(['set-option', '-t', name, 'remain-on-exit', 'on']);
  }

  /** The visible screen, wrapped lines joined (-J), so a line too wide shows as one long line. */
  screen(name: string): string[] {
    return this.tmux(['capture-pane', '-p', '-J', '-t', name]).replace(/\n+$/, '').split('\n');
  }

  keys(name: string, ...keys: string[]): void {
    this.tmux(['send-keys', '-t', name, ...keys]);
  }

  literal(name: string, text: string): void {
    this.tmux(['send-keys', '-t', name, '-l', text]);
  }

  format(name: string, f: string): string {
    return this.tmux(['display-message', '-p', '-t', name, f]).trim();
  }
}
