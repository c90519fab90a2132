/**
 * `flowlens serve --data-dir DIR`: the dashboard, the JSON API and gRPC over a
 * stored history, counting nothing — the composition root with a collector
 * that never drains (src/offline/stored-history.ts). Runs until SIGINT/SIGTERM.
 */
import type { FlowlensConfig } from '../config/index.js';
import { StoredHistorySource } from '../offline/stored-history.js';

export async function serve(config: FlowlensConfig, out: NodeJS.WritableStream = process.stderr): Promise<number> {
  const { Flowlens } = await import('../compose.js');
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // the stored history is kept as it is: nothing is pruned by today's date
  config.history.minuteRetentionDays = 1_000_000; // days: ~2700 years
  config.history.sessionLogDays = config.history.minuteRetentionDays;
  let source: StoredHistorySource | undefined;
  const flowlens: InstanceType<typeof Flowlens> = new Flowlens(config, {
    collector: {
      check: () => undefined,
      open: () => (source = new StoredHistorySource(() => {
        const r = flowlens.history?.store?.dateRange();
        return { first: r?.firstTime ?? null, last: r?.lastTime ?? null };
      })),
    },
    hostAddresses: () => [],
    // the stored devices as they are: this host's neighbour table is not the history's
    neighbours: () => [],
  });
  await flowlens.start();
  const api = flowlens.api?.status();
  out.write(`flowlens: serving ${source!.label()} from ${config.history.dataDir}${api ? `: dashboard and JSON API on ${api.http}, gRPC on ${api.grpc}` : ''}\n`);
  await stopped;
  await flowlens.stop();
  return 0;
}
