/**
 * Network namespaces and veth pairs made for one test: unique names from the
 * test process's pid, removed in t.teardown (and, should the process die
 * first, on exit). The host end stays in this namespace, where the test
 * attaches; the peer end lives in a namespace of its own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';

export interface VethPair {
  /** The namespace holding the peer end. */
  ns: string;
  /** The end in this namespace (where flowlens attaches). */
  host: string;
  peer: string;
  ifindex: number;
  /** 10.232.x.y/30 addresses, when asked for. */
  hostAddr?: string;
  peerAddr?: string;
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quietly(f: () => unknown): void {
  try { f(); } catch { /* already gone */ }
}

const created = new Set<() => void>();
process.on('exit', () => { for (const c of created) c(); });

let subnet = 0;

/** tag: 1-3 characters that make the names unique within this test file. */
export function vethPair(t: Test, tag: string, opts: { addresses?: boolean } = {}): VethPair {
  const base = `fl${process.pid}${tag}`;
  if (base.length > 14) throw new Error(`interface name ${base}h too long`);
  const ns = `flowlens-test-${process.pid}-${tag}`;
  const host = `${base}h`;
  const peer = `${base}p`;
  const cleanup = () => {
    quietly(() => ip('link', 'del', host));
    quietly(() => ip('netns', 'del', ns));
  };
  created.add(cleanup);
  t.teardown(() => { cleanup(); created.delete(cleanup); });
  ip('netns', 'add', ns);
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
  const pair: VethPair = { ns, host, peer, ifindex: Number(readFileSync(`/sys/class/net/${host}/ifindex`, 'utf8')) };
  if (opts.addresses) {
    // a /30 in 10.232.0.0/16 derived from the pid, so that concurrent runs differ
    const n = ((process.pid * 4 + subnet++) % 16384);
    const x = n >> 6, y = (n & 63) * 4;
    pair.hostAddr = `10.232.${x}.${y + 1}`;
    pair.peerAddr = `10.232.${x}.${y + 2}`;
    ip('addr', 'add', `${pair.hostAddr}/30`, 'dev', host);
    ip('-n', ns, 'addr', 'add', `${pair.peerAddr}/30`, 'dev', peer);
  }
  ip('link', 'set', host, 'up');
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ip('-n', ns, 'link', 'set', peer, 'up');
  return pair;
}

/** Pings from the peer's namespace to the host end (IPv4 addresses needed). */
export function pingFromPeer(pair: VethPair, count = 3): void {
  if (!pair.hostAddr) throw new Error('the pair has no addresses');
  execFileSync('ip', ['netns', 'exec', pair.ns, 'ping', '-c', String(count), '-i', '0.05', '-W', '2', '-q', pair.hostAddr], { stdio: 'ignore', timeout: 15_000 });
}
