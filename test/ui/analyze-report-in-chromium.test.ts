/**
 * The HTML report of `flowlens analyze --report` opens in Chromium with every
 * request other than the file itself refused (no network), and shows the
 * charts: uPlot's traffic chart with one point per interval, the protocol
 * donut with one slice per protocol, the talker tables and the sessions.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { PcapWriter } from '../helpers/pcap.js';
import { buildCapture } from '../helpers/replay-capture.js';
import { analyzeJson } from '../helpers/analyze-cli.js';
import { CHROMIUM, openBrowser } from '../helpers/dashboard-lab.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-analyze-report-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('the report opens offline and shows the charts and tables', async (t) => {
  if (!requireKernel(t)) return;
  const cap = buildCapture(9);
  const pcap = new PcapWriter();
  // spread over ~4 s of file time: several 1 s intervals on the traffic chart
  for (const f of cap.frames) pcap.add(f.frame, 10_000);
  const file = path.join(tmp, 'capture.pcap');
  pcap.write(file);
  const report = path.join(tmp, 'report.html');
  const j = await analyzeJson([file, '--report', report, '--interval', '1s']);
  t.ok(j.series.length >= 4, `${j.series.length} intervals of file time`);

  const { page, errors } = await openBrowser(t, CHROMIUM);
  const requests: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    return url.startsWith('file://') ? route.continue() : route.abort();
  });
  await page.goto(`file://${report}`);
  await page.waitForSelector('#traffic .uplot canvas');
  t.same(requests, [`file://${report}`], 'the page asks for nothing but itself');
  t.same(errors, [], 'no console or page errors');
  const points = await page.evaluate(() => (window as unknown as { trafficChart: { data: number[][] } }).trafficChart.data[0]!.length);
  t.equal(points, j.series.length, 'the traffic chart has a point per interval');
  const slices = await page.$$eval('#protocols .slice', (els) => els.map((e) => e.getAttribute('data-key')));
  t.same(slices.sort(), j.talkers.proto.rows.map((r) => r.key).sort(), 'a donut slice per protocol');
  const remotes = await page.$$eval('#remotes tbody tr', (rows) => rows.length);
  t.equal(remotes, j.talkers.ip.rows.length + (j.talkers.ip.other.bytes ? 1 : 0), 'the remote addresses table');
  const sessions = await page.$$eval('#sessions tbody tr', (rows) => rows.length);
  t.equal(sessions, Math.min(j.sessions.top.length, 50), 'the sessions table');
  t.ok(j.sessions.ended >= 10, `${j.sessions.ended} sessions`);
  const totals = await page.textContent('#totals');
  t.match(totals, new RegExp(`IP packets\\s*${j.totals.packets}`), 'the totals');
  const box = await page.$eval('#traffic canvas', (c) => ({ w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height }));
  t.ok(box.w > 300 && box.h > 100, `the chart is drawn (${box.w}×${box.h})`);
});
