/**
 * A flowlens control plane without a kernel, for API tests: the real flows
 * stage (FlowProcessor), a real history store in a temporary directory and the
 * real ApiServer listening on loopback (ports chosen by the kernel), fed with
 * crafted intervals (FlowBatch encoded as the addon writes it).
 */
import type { Test } from 'tap';
import { FlowProcessor } from '../../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import type { IntervalStats } from '../../src/flows/types.js';
import { Store } from '../../src/store/index.js';
import { ApiServer } from '../../src/api/index.js';
import type { LookupAll } from '../../src/api/listen-address.js';
import type { ApiConfig } from '../../src/config/index.js';
import type { MonitorStatus } from '../../src/monitor.js';
import { flowBatch, totalsFor, type FlowSpec } from './flow-batch.js';
import { collectorStatus } from './interval-stats.js';
import { tempDataDir } from './intervals.js';
import type { PacketCaptures } from '../../src/capture/index.js';

export const HOST = '10.9.0.2';

export function apiConfig(over: Partial<ApiConfig> = {}): ApiConfig {
  return { enabled: true, listen: '127.0.0.1', httpPort: 0, grpcPort: 0, rateLimit: 100_000, bodyLimit: 65536, metricsRemoteSeries: 50, ...over };
}

export interface ApiFixture {
  api: ApiServer;
  processor: FlowProcessor;
  store: Store | undefined;
  /** The history store's data directory (for a CLI reading it). */
  dataDir: string;
  /** Processes one interval of these flows ending at `end` (wall ms) and hands it to the store and the API. */
  feed(specs: FlowSpec[], end: number, ms?: number): IntervalStats;
  /** Feeds `n` one-second intervals of `specsAt(start + 100)`, the last ending `now`, then flushes the history, so live and stored answers cover the same traffic. */
  feedSeconds(n: number, now: number, specsAt: (at: number) => FlowSpec[]): void;
  /** The JSON API's address, for httpRequest. */
  web: { base: string };
}

export async function startApi(t: Test, over: Partial<ApiConfig> = {},
  opts: { history?: boolean; maxSessions?: number; sinks?: () => MonitorStatus['sinks']; lookup?: LookupAll; captures?: () => PacketCaptures | undefined } = {}): Promise<ApiFixture> {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const processor = new FlowProcessor({ sessions: { ...defaultSessionConfig(), maxSessions: opts.maxSessions ?? 200_000 }, filters: { ignore: [], keep: [] } }, classifier);
  const dataDir = tempDataDir(t, 'api');
  const store = opts.history === false ? undefined : Store.open({ dataDir, flushIntervalMs: 0 });
  const startedAt = Date.now();
  let collector = collectorStatus(['eth0']);
  const status = (): MonitorStatus => ({ host: 'test-host', startedAt, collector, flows: processor.status(), consumerErrors: {}, lateDeliveries: 0, coarsenedIntervals: 0, sinks: opts.sinks?.() ?? {} });
  let api: ApiServer;
  try {
    api = await ApiServer.start(apiConfig(over), { processor, status, store, intervalMs: 1000, host: 'test-host', ...(opts.captures ? { captures: opts.captures } : {}) }, opts.lookup);
  } catch (e) {
    store?.close();
    throw e;
  }
  t.teardown(async () => {
    await api.close();
    store?.close();
  });
  const feed: ApiFixture['feed'] = (specs, end, ms = 1000) => {
    const stats = processor.process({ start: end - ms, end, flows: flowBatch(specs, end - ms / 2), totals: totalsFor(specs) });
    collector = { ...collector, intervals: collector.intervals + 1, lastDrainMs: 1.5 };
    store?.add(stats);
    // and the rest of its work, as the monitor runs it in the next turn
    api.add(stats, collector)?.();
    return stats;
  };
  return {
    api, processor, store, dataDir, feed,
    feedSeconds(n, now, specsAt) {
      for (let i = n - 1; i >= 0; i--) feed(specsAt(now - i * 1000 - 900), now - i * 1000);
      store?.flush();
    },
    web: { base: `http://127.0.0.1:${api.httpPort}` },
  };
}

/** A TCP conversation between this host and `remote`, both directions, in one interval. */
export function tcpFlows(remote: string, localPort: number, remotePort: number, bytesUp: number, bytesDown: number, at: number): FlowSpec[] {
  return [
    { direction: 'egress', protocol: 6, src: HOST, dst: remote, srcPort: localPort, dstPort: remotePort, packets: Math.ceil(bytesUp / 1000), bytes: bytesUp, tcpFlags: 0x12, firstSeen: at, lastSeen: at },
    { direction: 'ingress', protocol: 6, src: remote, dst: HOST, srcPort: remotePort, dstPort: localPort, packets: Math.ceil(bytesDown / 1000), bytes: bytesDown, tcpFlags: 0x12, firstSeen: at + 1, lastSeen: at + 1 },
  ];
}
