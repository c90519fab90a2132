/**
 * `flowlens capture`: a pcapng (or pcap) file of exactly the frames a person
 * asks about, filtered in the kernel by the counting program itself.
 *
 * Where it captures:
 * - through a running `flowlens run` (its JSON API, GET /api/capture, admin
 *   token) when one answers at the settings' API address (or --api URL) — the
 *   daemon's programs are already attached and its counts are not disturbed;
 * - else standalone: it loads the counter itself, attaches it to --iface,
 *   captures, and detaches at the end.
 *
 * The output (a file, or stdout with -w -) is opened before anything else, so
 * an unwritable path is the first error, not the last.
 */
import { createWriteStream, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import { FlowlensError } from '../errors.js';
import { configFrom, type FlowlensConfig } from '../config/index.js';
import { captureSpec, type CaptureParams, type CaptureSpec } from '../api/capture.js';
import { captureExpression, type CaptureResult, type RunningCapture } from '../capture/index.js';
import { formatBytes } from './format.js';
import { ProgressLine } from './progress.js';

type Values = Record<string, string | boolean | undefined>;

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

/** Opens the output now: a path that cannot be written fails before anything is attached. */
function openOutput(target: string): { out: Writable; name: string } {
  if (target === '-') {
    if (process.stdout.isTTY) throw usage('-w - writes binary capture data to stdout, which is a terminal', 'pipe it (-w - | tshark -r -) or give a file: -w capture.pcapng');
    // process.stdout cannot be ended; this stream ends, and waits for each chunk to be flushed
    const out = new Writable({
      write: (chunk, _enc, cb) => { process.stdout.write(chunk, cb); },
      final: (cb) => cb(),
    });
    process.stdout.on('error', (e) => out.destroy(e));
    return { out, name: 'stdout' };
  }
  let fd: number;
  try {
    fd = openSync(target, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOENT' ? 'its directory does not exist'
      : code === 'EISDIR' ? 'it is a directory' : code === 'EROFS' ? 'the file system is read-only' : (e as Error).message;
    throw new FlowlensError('FLOW_ERR_CAPTURE_OUTPUT', `cannot write the capture to ${target}: ${why}`, 'give a path you can write (-w DIR/capture.pcapng), or -w - for stdout');
  }
  return { out: createWriteStream(target, { fd }), name: target };
}

/** The admin token: --token-file (the token, or a tokens file's first admin line), else FLOWLENS_TOKEN. */
function readToken(file: string | undefined): string | undefined {
  if (file === undefined) return process.env.FLOWLENS_TOKEN || undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  const admin = lines.map((l) => /^admin\s+(\S+)$/.exec(l)?.[1]).find(Boolean);
  const token = admin ?? (lines.length === 1 && !/\s/.test(lines[0]!) ? lines[0] : undefined);
  if (!token) throw usage(`${file} holds no token`, 'write the admin token alone in it, or a line "admin TOKEN"');
  return token;
}

/** The base URL of the settings' API: a wildcard listen address is reached on loopback. */
function settingsApiUrl(config: FlowlensConfig): string {
  const a = config.api.listen === '0.0.0.0' ? '127.0.0.1' : config.api.listen === '::' ? '::1' : config.api.listen;
  return `${config.api.tls ? 'https' : 'http'}://${a.includes(':') ? `[${a}]` : a}:${config.api.httpPort}`;
}

interface ApiTarget { url: URL; token?: string; ca?: Buffer }

function request(target: ApiTarget, method: string, path: string, timeoutMs?: number): Promise<http.IncomingMessage> {
  const url = new URL(path, target.url);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method, headers: target.token ? { authorization: `Bearer ${target.token}` } : {},
      ...(target.ca ? { ca: target.ca } : {}),
    }, resolve);
    req.on('error', reject);
    if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.end();
  });
}

async function body(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function apiRefusal(status: number | undefined, text: string, url: URL): FlowlensError {
  let message = text;
  let hint: string | undefined;
  try {
    const j = JSON.parse(text) as { message?: string; hint?: string };
    message = j.message ?? text;
    hint = j.hint;
  } catch { /* not JSON */ }
  if (status === 401 || status === 403) {
    return new FlowlensError('FLOW_ERR_PERMISSION', `the flowlens at ${url.origin} refused the capture: ${message}`, 'captures need an admin token: --token-file FILE or FLOWLENS_TOKEN');
  }
  return new FlowlensError(status === 409 ? 'FLOW_ERR_CAPTURE_BUSY' : 'FLOW_ERR_USAGE', `the flowlens at ${url.origin} refused the capture: ${message}`, hint);
}

/**
 * The running flowlens to capture through, if one answers; undefined when
 * nothing listens there (standalone then). An --api that does not answer is an error.
 */
async function findDaemon(target: ApiTarget, explicit: boolean): Promise<string[] | undefined> {
  let res: http.IncomingMessage;
  try {
    res = await request(target, 'GET', '/api/status', 2000);
  } catch (e) {
    if (explicit) throw usage(`no flowlens answers at ${target.url.origin}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'is flowlens run running there? check --api');
    return undefined;
  }
  const text = await body(res);
  if (res.statusCode !== 200) throw apiRefusal(res.statusCode, text, target.url);
  try {
    return ((JSON.parse(text) as { interfaces?: Array<{ name: string }> }).interfaces ?? []).map((i) => i.name);
  } catch {
    if (explicit) throw usage(`${target.url.origin} does not answer like flowlens (GET /api/status)`);
    return undefined;
  }
}

/** Said once the filter is in the kernel (as tcpdump's "listening on"): traffic from now on is captured. */
function startLine(where: string, spec: CaptureSpec, output: string): void {
  const expression = captureExpression(spec.filter);
  process.stderr.write(`flowlens capture: capturing ${where}${expression ? ` (filter: ${expression})` : ''}, writing ${spec.format} to ${output}\n`);
}

function paramsFrom(v: Values): CaptureParams {
  const s = (k: string) => (v[k] === undefined ? undefined : String(v[k]));
  return {
    iface: s('iface'), host: s('host'), net: s('net'), port: s('port'), proto: s('proto'), session: s('session'), snaplen: s('snaplen'),
    count: s('count'), duration: s('duration'), maxSize: s('max-size'), format: s('format'),
  };
}

function summary(r: CaptureResult, where: string, output: string): string {
  const lines = [`flowlens capture: ${r.packets} frames (${formatBytes(r.bytes)}) from ${r.interfaces.join(', ') || where} written to ${output}` +
    ` (${formatBytes(r.fileBytes)}${r.expression ? `, filter: ${r.expression}` : ''}); ended by ${REASONS[r.reason]}`];
  const lost = [r.dropped ? `${r.dropped} lost in the kernel (the capture ring was full: raise capture.ringSize)` : '',
    r.outputDropped ? `${r.outputDropped} lost because the output was too slow` : ''].filter(Boolean);
  lines.push(`flowlens capture: the filter matched ${r.matched} frames${lost.length ? `; ${lost.join('; ')}` : ', none lost'}`);
  if (r.outputError && r.outputError !== 'EPIPE') lines.push(`flowlens capture: writing ${output} failed: ${r.outputError}`);
  return `${lines.join('\n')}\n`;
}

const REASONS: Record<CaptureResult['reason'], string> = {
  count: '--count', duration: '--duration', size: '--max-size', stopped: 'a stop (Ctrl-C)', 'output-closed': 'the output closing',
  'collector-stopped': 'flowlens stopping',
};

/** Ctrl-C / SIGTERM stop the capture cleanly (the file gets its statistics); a second one exits. */
function onStopSignal(stop: () => void): () => void {
  let signalled = false;
  const handler = () => {
    if (signalled) process.exit(130);
    signalled = true;
    stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGPIPE', handler);
  return () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); process.off('SIGPIPE', handler); };
}

async function throughApi(target: ApiTarget, spec: CaptureSpec, v: Values, out: Writable, output: string, progress: ProgressLine): Promise<CaptureResult> {
  const q = new URLSearchParams();
  for (const [k, x] of Object.entries(paramsFrom(v))) if (x !== undefined) q.set(k, String(x));
  const res = await request(target, 'GET', `/api/capture?${q}`);
  if (res.statusCode !== 200) throw apiRefusal(res.statusCode, await body(res), target.url);
  const id = String(res.headers['x-flowlens-capture-id'] ?? '');
  startLine(`through the flowlens at ${target.url.origin}${spec.filter.iface ? ` on ${spec.filter.iface}` : ''}`, spec, output);
  let written = 0;
  const untrap = onStopSignal(() => { void request(target, 'POST', `/api/capture/${encodeURIComponent(id)}/stop`).then(body, () => res.destroy()); });
  try {
    for await (const chunk of res) {
      written += (chunk as Buffer).length;
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      progress.update(() => `capturing through ${target.url.origin}${spec.filter.iface ? ` on ${spec.filter.iface}` : ''}: ${formatBytes(written)} written to ${output}`);
    }
  } finally {
    untrap();
  }
  await new Promise<void>((r) => out.end(r));
  const trailer = res.trailers['x-flowlens-capture'];
  if (!trailer) throw new FlowlensError('FLOW_ERR_CAPTURE_OUTPUT', `the capture from ${target.url.origin} ended early (the connection closed): ${output} may be incomplete`);
  return JSON.parse(String(trailer)) as CaptureResult;
}

async function standalone(config: FlowlensConfig, spec: CaptureSpec, out: Writable, output: string, progress: ProgressLine): Promise<CaptureResult> {
  const iface = spec.filter.iface;
  if (iface === undefined) throw usage('say which interface to capture on: --iface IF', 'no flowlens run answered its API, so flowlens capture attaches itself, to one interface');
  const { Collector } = await import('../collector/index.js');
  // small tables: this collector only has to exist for the capture; names are not looked for
  const collector = Collector.open({ ...config.collector, interfaces: [iface], roles: undefined, mapEntries: 4096, captureRingBytes: 0 });
  let capture: RunningCapture | undefined;
  try {
    const captures = collector.packetCaptures;
    if (!captures) throw usage('packet captures are off: capture.ringSize is 0', 'set capture.ringSize (--capture-ring) to a power of two of at least 262144');
    capture = captures.start({ ...spec, out });
    startLine(`on ${iface}`, spec, output);
    const running = capture;
    const untrap = onStopSignal(() => { void running.stop(); });
    const timer = setInterval(() => {
      const p = running.progress;
      progress.update(() => `capturing on ${iface}: ${p.packets} frames, ${formatBytes(p.bytes)}, ${formatBytes(p.fileBytes)} written to ${output}`);
    }, 250);
    try {
      return await running.done;
    } finally {
      clearInterval(timer);
      untrap();
    }
  } finally {
    collector.closeNow();
  }
}

export async function captureCommand(v: Values): Promise<number> {
  if (v.write === undefined) throw usage('say where the capture goes: -w FILE.pcapng, or -w - for stdout');
  const spec = captureSpec(paramsFrom(v));
  const config = configFrom({
    file: v.config as string | undefined,
    flags: { hook: v.hook, 'xdp-mode': v['xdp-mode'], 'capture-ring': v['capture-ring'], listen: v.listen, 'http-port': v['http-port'] },
  });
  const token = readToken(v['token-file'] as string | undefined);
  let url: URL;
  try {
    url = new URL(String(v.api ?? settingsApiUrl(config)));
  } catch {
    throw usage(`--api: "${v.api}" is not a URL`, 'write it like http://127.0.0.1:8080');
  }
  const target: ApiTarget = { url, ...(token ? { token } : {}), ...(config.api.tls && v.api === undefined ? { ca: readFileSync(config.api.tls.cert) } : {}) };
  if (v.standalone && v.api !== undefined) throw usage('--standalone and --api exclude each other');
  // standalone needs the interface and the privileges; check them before the output file is created
  const daemon = v.standalone ? undefined : await findDaemon(target, v.api !== undefined);
  if (daemon && spec.filter.iface !== undefined && !daemon.includes(spec.filter.iface)) {
    throw new FlowlensError('FLOW_ERR_UNKNOWN_INTERFACE', `the flowlens at ${url.origin} does not count on "${spec.filter.iface}"`,
      `it counts on ${daemon.join(', ') || 'no interface'}; capture there, or stop it and capture with --standalone`);
  }
  if (!daemon) {
    if (spec.filter.iface === undefined) throw usage('say which interface to capture on: --iface IF', `no flowlens run answers at ${url.origin}, so flowlens capture attaches itself, to one interface`);
    const { resolveInterfaces } = await import('../system/interfaces.js');
    const { preflight } = await import('../system/preflight.js');
    resolveInterfaces([spec.filter.iface]);
    preflight();
  }
  const { out, name } = openOutput(String(v.write));
  const progress = new ProgressLine(process.stderr);
  let result: CaptureResult;
  try {
    result = daemon ? await throughApi(target, spec, v, out, name, progress) : await standalone(config, spec, out, name, progress);
  } catch (e) {
    progress.clear();
    out.destroy();
    if ((e as FlowlensError).code === 'FLOW_ERR_ALREADY_ATTACHED') {
      throw new FlowlensError('FLOW_ERR_ALREADY_ATTACHED', `${(e as Error).message.split('. ')[0]}, and its API does not answer at ${url.origin}`,
        'capture through it: give --api URL (and --token-file) of that flowlens run');
    }
    throw e;
  }
  progress.clear();
  process.stderr.write(summary(result, daemon ? url.origin : spec.filter.iface!, name));
  return result.outputError && result.outputError !== 'EPIPE' ? 1 : 0;
}
