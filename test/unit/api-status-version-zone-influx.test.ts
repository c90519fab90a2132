/**
 * The status API and /metrics report what a user needs to trust the numbers:
 * flowlens's version, the host's time zone (the zone of every local date),
 * and the InfluxDB writer's health — written, buffered, dropped — as totals
 * that only grow.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startApi, tcpFlows } from '../helpers/api-fixture.js';
import { httpRequest } from '../helpers/api-clients.js';
import { repoRoot } from '../../src/native/binding.js';
import type { InfluxSinkStats } from '../../src/sinks/influx/index.js';

function influx(over: Partial<InfluxSinkStats>): InfluxSinkStats {
  return {
    pointsWritten: 0, bytesWritten: 0, batchesWritten: 0, pointsDropped: 0, bytesDropped: 0, bufferedPoints: 0, bufferedBytes: 0,
    maxBufferPoints: 100_000, maxBufferBytes: 16 << 20, retries: 0, backingOff: false, periods: 0,
    seriesFolded: { ip: 0, host: 0, port: 0, proto: 0, country: 0, asn: 0, domain: 0, device: 0 }, ...over,
  };
}

t.test('version, time zone and the InfluxDB writer in /api/status and /metrics', async (t) => {
  let sink = influx({ pointsWritten: 120, pointsDropped: 0, bufferedPoints: 3, lastSuccess: 1_795_000_000_000 });
  const f = await startApi(t, {}, { history: false, sinks: () => ({ influx: { ...sink } }) });
  const web = { base: `http://127.0.0.1:${f.api.httpPort}` };
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 2000, now - 900), now);

  const status = (await httpRequest(web, '/api/status')).json();
  t.equal(status.version, JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')).version);
  t.equal(status.timeZone, Intl.DateTimeFormat().resolvedOptions().timeZone);
  t.match(status, { captures: 0, captureDrops: 0, captureLoadErrors: 0, namedAddresses: 0 }, 'capture counters are reported');
  t.match(status.influx, { pointsWritten: 120, pointsDropped: 0, bufferedPoints: 3, maxBufferPoints: 100_000, backingOff: false, lastSuccess: 1_795_000_000_000 });

  // InfluxDB goes down: points are buffered, then dropped; retries back off
  sink = influx({ pointsWritten: 120, pointsDropped: 40, bytesDropped: 4000, bufferedPoints: 100_000, retries: 7, backingOff: true,
    lastError: { message: 'connect ECONNREFUSED 127.0.0.1:8086', at: now }, lastSuccess: 1_795_000_000_000,
    seriesFolded: { ip: 5, host: 0, port: 0, proto: 0, country: 0, asn: 0, domain: 2, device: 0 } });
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 2000, now + 100), now + 1000);
  const down = (await httpRequest(web, '/api/status')).json();
  t.match(down.influx, { pointsDropped: 40, bufferedPoints: 100_000, retries: 7, backingOff: true, lastError: /ECONNREFUSED/, seriesFolded: { ip: 5, domain: 2 } });

  const metrics = (await httpRequest(web, '/metrics')).text;
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.equal(value('flowlens_capture_drops_total'), 0);
  t.equal(value('flowlens_influx_points_written_total'), 120);
  t.equal(value('flowlens_influx_points_dropped_total'), 40);
  t.equal(value('flowlens_influx_dropped_bytes_total'), 4000);
  t.equal(value('flowlens_influx_retries_total'), 7);
  t.equal(value('flowlens_influx_buffered_points'), 100_000);
  t.match(metrics, /flowlens_influx_series_folded_total\{[^}]*dimension="ip"[^}]*\} 5/);

  // recovered: the backlog is written; counters keep their totals
  sink = influx({ pointsWritten: 100_240, pointsDropped: 40, bytesDropped: 4000, retries: 7, lastSuccess: now + 2000,
    seriesFolded: { ip: 5, host: 0, port: 0, proto: 0, country: 0, asn: 0, domain: 2, device: 0 } });
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 2000, now + 1100), now + 2000);
  const m2 = (await httpRequest(web, '/metrics')).text;
  const v2 = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(m2)?.[1]);
  t.equal(v2('flowlens_influx_points_written_total'), 100_240);
  t.equal(v2('flowlens_influx_points_dropped_total'), 40, 'drops are not counted twice');
  t.equal(v2('flowlens_influx_buffered_points'), 0);
});

t.test('without an InfluxDB writer: no influx status and no influx series', async (t) => {
  const f = await startApi(t, {}, { history: false });
  const web = { base: `http://127.0.0.1:${f.api.httpPort}` };
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 2000, Date.now() - 900), Date.now());
  t.equal((await httpRequest(web, '/api/status')).json().influx, undefined);
  t.notMatch((await httpRequest(web, '/metrics')).text, /flowlens_influx_/);
});
