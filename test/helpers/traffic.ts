/**
 * traffic-peer.cjs (UDP and TCP with known sizes) run inside test namespaces:
 * the command line, and a server started and waited for.
 */
import path from 'node:path';
import type { Test } from 'tap';
import { repoRoot } from '../../src/native/binding.js';
import { waitFor } from './netns.js';
import type { Topology } from './topology.js';

const PEER = path.join(repoRoot, 'test/helpers/traffic-peer.cjs');

/** `node traffic-peer.cjs ARGS`, without the test runner's NODE_OPTIONS. */
export function peerCommand(args: string[]): [string, string[]] {
  return ['env', ['-u', 'NODE_OPTIONS', process.execPath, PEER, ...args]];
}

/** Starts a traffic-peer server (udp-server, tcp-server) in a namespace and waits until it listens. */
export async function startPeerServer(t: Test, topo: Topology, ns: string, args: string[]): Promise<void> {
  const child = topo.spawn(ns, ...peerCommand(args));
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  t.ok(await waitFor(() => out.includes('ready'), 5000), `${args.join(' ')}: ready`);
}
