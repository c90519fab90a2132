/**
 * Network namespaces and veth pairs for end-to-end tests.
 *
 * createLab(t, ...) builds one veth pair, end `a` and end `b`:
 *  - layout 'namespaces': each end in its own new namespace;
 *  - layout 'root': `a` in the test's own (root) namespace, so an in-process
 *    Collector can count on it, and `b` in a new namespace. A root-side end
 *    never gets IP addresses (frames reach it by replay, never by routing).
 * Names are unique per test process (process.pid) and per lab, so parallel
 * runs never collide. IPv6 is disabled on the test links unless asked for, so
 * the kernel sends nothing on its own (no MLD, router solicitation or NDP);
 * IPv4 neighbours are static (nud permanent), so there is no ARP either.
 *
 * Everything the lab made (namespaces, links, the processes started through it)
 * is removed by t.teardown, also when an assertion failed, and on process exit.
 * Processes are ended only by their own PID.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Test } from 'tap';

export interface End {
  /** Namespace name, or null for the test's own namespace. */
  ns: string | null;
  /** Interface name (<= 15 characters). */
  name: string;
  mac: string;
  ifindex: number;
  /** Addresses without prefix length (when the lab has addresses). */
  v4?: string;
  v6?: string;
}

export interface LabOptions {
  /** A short lowercase tag (1-3 characters) naming the test file; appears in every name. */
  tag: string;
  layout: 'namespaces' | 'root';
  /** IPv4 (and, with ipv6, IPv6) addresses on both ends, with static neighbours. Not with layout 'root'. */
  addresses?: boolean;
  /** Leave IPv6 enabled on the test links (addresses get nodad; RA and RS are off). Default: disabled. */
  ipv6?: boolean;
  /** ethtool -K settings for both ends, e.g. { gro: 'on', tso: 'on' }. */
  features?: Record<string, 'on' | 'off'>;
  mtu?: number;
}

export interface LinkCounters {
  bytes: number;
  packets: number;
  dropped: number;
}

export interface LinkStats {
  rx: LinkCounters;
  tx: LinkCounters;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, inside namespace `ns` when given; throws with its stderr on failure. */
export function nsExec(ns: string | null, cmd: string, args: string[], input?: string): string {
  const [file, argv] = ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
  try {
    return execFileSync(file, argv, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${ns ? `[${ns}] ` : ''}${cmd} ${args.join(' ')}: ${(err.stderr || err.stdout || err.message).trim()}`);
  }
}

function tryExec(ns: string | null, cmd: string, args: string[]): boolean {
  try {
    nsExec(ns, cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Polls `cond` every `everyMs` until it is true or `timeoutMs` passed; returns its last value. */
export async function waitFor<T>(cond: () => T | Promise<T>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let labSeq = 0;

export class Lab {
  readonly namespaces: string[] = [];
  readonly a: End;
  readonly b: End;
  private readonly children = new Set<ChildProcess>();
  private readonly rootLinks: string[] = [];
  private readonly exitHook = () => this.teardownSync();
  private torn = false;

  private constructor(readonly opts: LabOptions, readonly seq: number) {
    const pid = process.pid;
    if (!/^[a-z]{1,3}$/.test(opts.tag)) throw new Error(`lab tag must be 1-3 lowercase letters, not "${opts.tag}"`);
    if (opts.layout === 'root' && opts.addresses) throw new Error('a root-side end gets no addresses');
    const base = `fe${opts.tag}${pid}${seq}`;
    if (base.length + 1 > 15) throw new Error(`interface name ${base}a is longer than 15 characters`);
    const nsA = opts.layout === 'root' ? null : `fle2e-${opts.tag}-${pid}-${seq}-a`;
    const nsB = `fle2e-${opts.tag}-${pid}-${seq}-b`;
    // 10.231.X.0/24 and fd00:e2e:X::/64, X from pid and lab: namespaces are private, this is only for readability
    const x = 1 + ((pid * 7 + seq) % 250);
    this.a = { ns: nsA, name: `${base}a`, mac: '', ifindex: 0 };
    this.b = { ns: nsB, name: `${base}b`, mac: '', ifindex: 0 };
    if (opts.addresses) {
      this.a.v4 = `10.231.${x}.1`;
      this.b.v4 = `10.231.${x}.2`;
      if (opts.ipv6) {
        this.a.v6 = `fd00:e2e:${x.toString(16)}::1`;
        this.b.v6 = `fd00:e2e:${x.toString(16)}::2`;
      }
    }
  }

  static create(t: Test, opts: LabOptions): Lab {
    const lab = new Lab(opts, labSeq++);
    process.once('exit', lab.exitHook);
    t.teardown(() => lab.teardown());
    try {
      lab.build();
    } catch (e) {
      lab.teardownSync();
      throw e;
    }
    return lab;
  }

  private ip(ns: string | null, args: string[]): string {
    return nsExec(null, 'ip', ns ? ['-n', ns, ...args] : args);
  }

  private build(): void {
    const { a, b, opts } = this;
    for (const ns of [a.ns, b.ns]) {
      if (!ns) continue;
      nsExec(null, 'ip', ['netns', 'add', ns]);
      this.namespaces.push(ns);
      this.ip(ns, ['link', 'set', 'lo', 'up']);
      if (!opts.ipv6) {
        nsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      }
    }
    // create both ends directly where they belong
    const aWhere = a.ns ? ['netns', a.ns] : [];
    nsExec(null, 'ip', ['link', 'add', a.name, ...aWhere, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns!]);
    if (!a.ns) this.rootLinks.push(a.name);
    for (const e of [a, b]) {
      // per-interface sysctls before the link comes up: nothing is sent at link-up
      const v6 = opts.ipv6
        ? [`net.ipv6.conf.${e.name}.accept_ra=0`, `net.ipv6.conf.${e.name}.router_solicitations=0`,
          `net.ipv6.conf.${e.name}.accept_dad=0`]
        : [`net.ipv6.conf.${e.name}.disable_ipv6=1`];
      nsExec(e.ns, 'sysctl', ['-qw', ...v6]);
      if (opts.mtu) this.ip(e.ns, ['link', 'set', e.name, 'mtu', String(opts.mtu)]);
      if (opts.features) {
        nsExec(e.ns, 'ethtool', ['-K', e.name, ...Object.entries(opts.features).flat()]);
      }
      if (e.v4) this.ip(e.ns, ['addr', 'add', `${e.v4}/24`, 'dev', e.name]);
      if (e.v6) this.ip(e.ns, ['-6', 'addr', 'add', `${e.v6}/64`, 'dev', e.name, 'nodad']);
      const info = JSON.parse(this.ip(e.ns, ['-j', 'link', 'show', 'dev', e.name]))[0];
      e.mac = info.address;
      e.ifindex = info.ifindex;
    }
    for (const [e, peer] of [[a, b], [b, a]] as const) {
      if (peer.v4) this.ip(e.ns, ['neigh', 'replace', peer.v4, 'lladdr', peer.mac, 'dev', e.name, 'nud', 'permanent']);
      if (peer.v6) this.ip(e.ns, ['-6', 'neigh', 'replace', peer.v6, 'lladdr', peer.mac, 'dev', e.name, 'nud', 'permanent']);
    }
    for (const e of [a, b]) this.ip(e.ns, ['link', 'set', e.name, 'up']);
  }

  /** Runs a command synchronously in an end's namespace. */
  exec(where: End | string | null, cmd: string, args: string[]): string {
    return nsExec(typeof where === 'object' && where !== null ? where.ns : where, cmd, args);
  }

  /** Starts a command in a namespace; it is killed (SIGKILL, by PID) at teardown if still running. */
  spawn(where: End | string | null, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const ns = typeof where === 'object' && where !== null ? where.ns : where;
    // `ip netns exec` execs the command: the child's PID is the command's own
    const [file, argv] = ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Runs a command to completion in a namespace and collects its output. */
  run(where: End | string | null, cmd: string, args: string[], timeoutMs = 30_000, opts: SpawnOptions = {}): Promise<RunResult> {
    const child = this.spawn(where, cmd, args, opts);
    return collect(child, timeoutMs, `${cmd} ${args.join(' ')}`);
  }

  /** The interface's own counters (`ip -s -j link show`): L2 bytes as the driver counts them. */
  stats(e: End): LinkStats {
    const s = JSON.parse(this.ip(e.ns, ['-s', '-j', 'link', 'show', 'dev', e.name]))[0].stats64;
    const pick = (d: { bytes: number; packets: number; dropped: number }) => ({ bytes: d.bytes, packets: d.packets, dropped: d.dropped });
    return { rx: pick(s.rx), tx: pick(s.tx) };
  }

  /** `ethtool -k` as a map of feature name → on. */
  features(e: End): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const line of this.exec(e, 'ethtool', ['-k', e.name]).split('\n')) {
      const m = /^\s*([\w-]+):\s+(on|off)/.exec(line);
      if (m) out[m[1]] = m[2] === 'on';
    }
    return out;
  }

  /** Programs attached to an end, as `bpftool -j net show dev` lists them, with their names. */
  attached(e: End): Array<{ hook: string; name: string; id: number }> {
    return attachedPrograms(e.ns, e.name);
  }

  async teardown(): Promise<void> {
    if (this.torn) return;
    const waits = [...this.children].map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
      setTimeout(resolve, 3000).unref();
    }));
    await Promise.all(waits);
    this.teardownSync();
  }

  /** Kills what is left (by PID) and removes the links and namespaces. */
  teardownSync(): void {
    if (this.torn) return;
    this.torn = true;
    process.off('exit', this.exitHook);
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    for (const l of this.rootLinks) tryExec(null, 'ip', ['link', 'del', l]);
    for (const ns of this.namespaces) tryExec(null, 'ip', ['netns', 'del', ns]);
  }
}

export function createLab(t: Test, opts: LabOptions): Lab {
  return Lab.create(t, opts);
}

/** Waits for a child to end (killing it after timeoutMs) and returns its exit and output. */
export function collect(child: ChildProcess, timeoutMs: number, what = 'command'): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${timeoutMs} ms; stderr: ${stderr.trim()}`));
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

let bpftoolChecked = false;

/** bpftool lists TCX attachments in `net show` from 7.3 on; older ones would silently show none. */
function checkBpftool(): void {
  if (bpftoolChecked) return;
  const v = /v(\d+)\.(\d+)/.exec(nsExec(null, 'bpftool', ['version']));
  if (!v || Number(v[1]) * 100 + Number(v[2]) < 703) {
    throw new Error(`bpftool ${v ? `${v[1]}.${v[2]}` : '(unknown version)'} cannot list TCX attachments; ` +
      'version 7.3 or later is needed: run scripts/install-deps.sh --test');
  }
  bpftoolChecked = true;
}

/** `bpftool -j net show dev X` (in a namespace), XDP programs named through `bpftool prog show`. */
export function attachedPrograms(ns: string | null, dev: string): Array<{ hook: string; name: string; id: number }> {
  checkBpftool();
  const net = JSON.parse(nsExec(ns, 'bpftool', ['-j', 'net', 'show', 'dev', dev]))[0] ?? {};
  const out: Array<{ hook: string; name: string; id: number }> = [];
  for (const x of net.xdp ?? []) {
    let name = '';
    try {
      name = JSON.parse(nsExec(null, 'bpftool', ['-j', 'prog', 'show', 'id', String(x.id)])).name ?? '';
    } catch { /* detached meanwhile */ }
    out.push({ hook: `xdp/${x.mode}`, name, id: x.id });
  }
  for (const c of net.tc ?? []) out.push({ hook: c.kind, name: c.name ?? '', id: c.prog_id ?? c.id });
  return out;
}
