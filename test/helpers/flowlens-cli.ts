/**
 * `flowlens run --format ndjson` as a child process of a test: its NDJSON is
 * summed into a Tally as it arrives, so a test can wait for counts, then stop it.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { repoRoot } from '../../src/native/binding.js';
import { waitFor, type End, type Lab } from './netns.js';
import { Tally } from './tally.js';

export const CLI = path.join(repoRoot, 'dist/src/cli.js');

export function cliBuilt(): boolean {
  return existsSync(CLI);
}

/**
 * The command line that runs the CLI: `env -u NODE_OPTIONS node dist/src/cli.js ...`. The test
 * runner puts its own process tracking into NODE_OPTIONS of every child it can see (it writes
 * under .tap/); the CLI is tested as a user runs it, without that. `env` execs node, so the
 * child's PID stays the CLI's own. `root`: the checkout as the child's user can read it
 * (test/helpers/readable-checkout.ts). `nodeArgs`: node's own options before the script (`--cpu-prof`).
 */
export function cliCommand(args: string[], root = repoRoot, nodeArgs: string[] = []): [string, string[]] {
  // `run` keeps history in /var/lib/flowlens by default: tests that are not about
  // history keep the host's directory clean
  const history = args[0] === 'run' && !args.some((a) => a === '--data-dir' || a === '--no-history' || a === '--config') ? ['--no-history'] : [];
  // and the APIs listen on 127.0.0.1:8080/50051 by default, which may be taken in the
  // test's namespace: tests that are not about the APIs leave them off
  const api = args[0] === 'run' && !args.some((a) => ['--http-port', '--grpc-port', '--listen', '--no-api', '--config'].includes(a)) ? ['--no-api'] : [];
  return ['env', ['-u', 'NODE_OPTIONS', process.execPath, ...nodeArgs, path.join(root, 'dist/src/cli.js'), ...args, ...history, ...api]];
}

/** Runs one CLI command to its end (in UTC, 30 s at most) and gives its exit code and output. */
export function runCliOnce(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, rest] = cliCommand(args);
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' }, timeout: 30_000 });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export class CliRun {
  readonly tally = new Tally();
  stdout = '';
  stderr = '';
  lines = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.partial += d;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      for (const l of parts) {
        if (!l) continue;
        this.lines++;
        this.tally.addNdjson(l);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  /** Starts `flowlens run --iface <end> --format ndjson <args>` in the end's namespace (node given `nodeArgs`). */
  static start(lab: Lab, where: End, args: string[], nodeArgs: string[] = []): CliRun {
    return new CliRun(lab.spawn(where, ...cliCommand(['run', '--iface', where.name, '--format', 'ndjson', ...args], repoRoot, nodeArgs)));
  }

  async waitFor(pred: (r: CliRun) => boolean, timeoutMs: number): Promise<boolean> {
    let done = false;
    void this.exited.then(() => { done = true; });
    return waitFor(() => pred(this) || done, timeoutMs, 20).then(() => pred(this));
  }

  /** Sends a signal and waits for the exit (SIGKILL after timeoutMs). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}
