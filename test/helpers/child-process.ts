/**
 * Runs node on a fixture script in a child process, so that a crash (an abort,
 * a segfault) fails one assertion instead of taking the test runner down.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonPath } from '../../src/native/binding.js';

export const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../native/fixtures');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout lines that are JSON objects. */
  records: Record<string, unknown>[];
}

/**
 * Spawns `node <args>` with the addon's path in FLOWLENS_ADDON. Through `env -u
 * NODE_OPTIONS`: tap's spawn wrapper would load its process-info hooks into the
 * child, which must be a plain node process.
 */
export function spawnNode(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], {
    env: { ...process.env, FLOWLENS_ADDON: addonPath(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcessWithoutNullStreams, timeoutMs = 30_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const records = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, signal, stdout, stderr, records });
    });
  });
}

export function runNode(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ChildResult> {
  const child = spawnNode(args, env);
  child.stdin.end();
  return collect(child, timeoutMs);
}

/** Resolves with the first JSON line the child prints (rejects if it ends first). */
export function firstRecord(child: ChildProcessWithoutNullStreams, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = '', err = '';
    const onErr = (d: Buffer) => { err += d.toString(); };
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      done();
      try { resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>); } catch (e) { reject(e as Error); }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`child ended (code ${code}, signal ${signal}) before reporting: ${err}`));
    };
    const timer = setTimeout(() => { done(); reject(new Error(`child did not report within ${timeoutMs} ms: ${err}`)); }, timeoutMs);
    function done() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onErr);
      child.off('exit', onExit);
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** A crash shows as a signal, or as V8's/libstdc++'s last words on stderr. */
export const CRASH_TEXT = /terminate called|FATAL ERROR|Segmentation fault|Aborted|core dumped|napi_fatal|Assertion .* failed/;
