/**
 * `flowlens analyze` as a child process, as a user runs it (see flowlens-cli.ts
 * for why NODE_OPTIONS is dropped): arguments, optional stdin bytes; the exit
 * code, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { cliCommand } from './flowlens-cli.js';
import type { AnalysisJson } from '../../src/cli/analyze.js';

export interface AnalyzeResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function analyzeCli(args: string[], stdin?: Buffer, timeoutMs = 60_000): Promise<AnalyzeResult> {
  const [cmd, argv] = cliCommand(['analyze', ...args]);
  const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`flowlens analyze ${args.join(' ')} did not finish in ${timeoutMs} ms`)); }, timeoutMs);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** `flowlens analyze --format json`: the analysis, or a thrown error with stderr. */
export async function analyzeJson(args: string[], stdin?: Buffer): Promise<AnalysisJson> {
  const r = await analyzeCli(['--format', 'json', ...args], stdin);
  if (r.code !== 0) throw new Error(`flowlens analyze failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as AnalysisJson;
}
