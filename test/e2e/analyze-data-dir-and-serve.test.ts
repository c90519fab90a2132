/**
 * `flowlens analyze --data-dir DIR` writes the capture into a history store
 * (kept whatever its age), and `flowlens serve --data-dir DIR` answers the
 * JSON API from it, counting nothing: the history's totals and the session
 * log equal the analysis, and the status says it serves stored history and
 * its time span.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { waitFor } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { buildCapture } from '../helpers/replay-capture.js';
import { analyzeJson } from '../helpers/analyze-cli.js';
import { cliCommand } from '../helpers/flowlens-cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-analyze-store-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('analyze into a history store, then serve it', async (t) => {
  if (!requireKernel(t)) return;
  const cap = buildCapture(11);
  const pcap = new PcapWriter(1_600_000_000); // September 2020: far outside any retention
  for (const f of cap.frames) pcap.add(f.frame, 1000);
  const file = path.join(tmp, 'capture.pcap');
  pcap.write(file);
  const dataDir = path.join(tmp, 'history');
  const j = await analyzeJson([file, '--data-dir', dataDir]);

  const [cmd, argv] = cliCommand(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--http-port', '0', '--grpc-port', '0']);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const url = await waitFor(() => /on (http:\/\/[^,\s]+)/.exec(err)?.[1], 20_000);
  t.match(err, /serving stored history 2020-09-13 \d\d:\d\d — 2020-09-13 \d\d:\d\d UTC/, 'says it serves stored history and its span');
  const get = async (p: string) => (await fetch(`${url}${p}`)).json() as Promise<Record<string, unknown>>;
  const q = await get(`/api/query?start=${1_599_955_200_000}&end=${1_600_128_000_000}&granularity=day`) as { total: { total: number; packetsUp: number; packetsDown: number } };
  t.equal(q.total.total, j.totals.bytes, `the stored history holds the analysis's ${j.totals.bytes} bytes`);
  t.equal(q.total.packetsUp + q.total.packetsDown, j.totals.packets, 'and its packets');
  const s = await get(`/api/sessions?source=ended&limit=1000&start=${1_599_955_200_000}&end=${1_600_128_000_000}`) as { sessions: unknown[] };
  t.equal(s.sessions.length, j.sessions.ended, `the session log holds the ${j.sessions.ended} sessions`);
  const status = JSON.stringify(await get('/api/status'));
  t.match(status, /stored history 2020-09-13/, 'the status names the stored history instead of an interface');
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('close', r));
  t.equal(code, 0, 'serve stops cleanly on SIGTERM');
});
