/**
 * Several network namespaces joined by veth links, with addresses and routes:
 * for tests that need more than one pair (a gateway between a LAN client and a
 * server). Names carry the test's tag and process.pid, so parallel runs never
 * collide; t.teardown removes the namespaces (and with them the links) and
 * kills the processes started here, by PID. IPv6 is off on every namespace.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Test } from 'tap';
import { collect, nsExec, type RunResult } from './netns.js';

export interface Link {
  /** Interface names in the first and second namespace. */
  a: string;
  b: string;
}

export class Topology {
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private links = 0;
  private readonly exitHook = () => this.teardownSync();

  private constructor(private readonly tag: string) {}

  static create(t: Test, tag: string): Topology {
    if (!/^[a-z]{1,3}$/.test(tag)) throw new Error(`topology tag must be 1-3 lowercase letters, not "${tag}"`);
    const topo = new Topology(tag);
    process.once('exit', topo.exitHook);
    t.teardown(() => topo.teardown());
    return topo;
  }

  /** A new namespace with loopback up and IPv6 off. */
  ns(name: string): string {
    const ns = `fltopo-${this.tag}-${process.pid}-${name}`;
    nsExec(null, 'ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    nsExec(null, 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    nsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    return ns;
  }

  /** A veth link between two namespaces, each end with an address ("10.0.0.1/24"), up. */
  link(nsA: string, addrA: string, nsB: string, addrB: string): Link {
    const n = this.links++;
    const base = `ft${this.tag}${process.pid % 100000}${n}`;
    const link = { a: `${base}a`, b: `${base}b` };
    nsExec(null, 'ip', ['link', 'add', link.a, 'netns', nsA, 'type', 'veth', 'peer', 'name', link.b, 'netns', nsB]);
    for (const [ns, dev, addr] of [[nsA, link.a, addrA], [nsB, link.b, addrB]] as const) {
      nsExec(null, 'ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev]);
      nsExec(null, 'ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    return link;
  }

  route(ns: string, to: string, via: string): void {
    nsExec(null, 'ip', ['-n', ns, 'route', 'add', to, 'via', via]);
  }

  /** Makes a namespace a router (forwarding is per namespace). */
  forward(ns: string): void {
    nsExec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  }

  exec(ns: string, cmd: string, args: string[]): string {
    return nsExec(ns, cmd, args);
  }

  /** Starts a command in a namespace; killed by PID at teardown if still running. */
  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  run(ns: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return collect(this.spawn(ns, cmd, args), timeoutMs, `${cmd} ${args.join(' ')}`);
  }

  async teardown(): Promise<void> {
    await Promise.all([...this.children].map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
      setTimeout(resolve, 3000).unref();
    })));
    this.teardownSync();
  }

  teardownSync(): void {
    process.off('exit', this.exitHook);
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of this.namespaces.splice(0)) {
      try { nsExec(null, 'ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    }
  }
}
