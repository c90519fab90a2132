/**
 * `flowlens analyze` of a capture whose intervals are large (12k flows and
 * more, which the flows stage and the consumers take in steps, over several
 * turns of the event loop) followed by small ones: every flow, session and
 * talker exact. The drain of a small interval comes soon after a large one
 * and reuses its buffer: the large one must be finished first
 * (IntervalSource.onBeforeDrain), or its flows would be read from the next.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { analyzeJson } from '../helpers/analyze-cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-analyze-large-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** Interval k: `sizes[k]` UDP flows of one packet each, from 10.(100+k).x.y, with 40 + k bytes of payload. */
const sizes = [12_000, 1, 15_000, 2, 1];

t.test('large intervals, each followed by a small one: every flow, session and talker exact', async (t) => {
  if (!requireKernel(t)) return;
  const w = new PcapWriter(1_700_000_000);
  let expectedBytes = 0, expectedPackets = 0;
  const perFlow = new Map<string, number>();
  sizes.forEach((n, k) => {
    const payload = Buffer.alloc(40 + k);
    for (let i = 0; i < n; i++) {
      const src = `10.${100 + k}.${(i >> 8) & 255}.${i & 255}`;
      const f = ipFrame('02:00:00:00:00:02', '02:00:00:00:00:01', { src, dst: '192.168.7.1', l4: { proto: 'udp', srcPort: 20000 + (i % 30000), dstPort: 53, payload } });
      // the first frame of an interval a second after the one before: one interval each
      w.add(f.frame, i === 0 && k > 0 ? 1_000_000 : 20);
      expectedBytes += f.frame.length - 14;
      expectedPackets++;
      perFlow.set(`${src}:${20000 + (i % 30000)}`, f.frame.length - 14);
    }
  });
  const file = path.join(tmp, 'large.pcap');
  w.write(file);
  const j = await analyzeJson([file, '--interval', '1s', '--local', '192.168.7.0/24']);
  t.equal(j.totals.packets, expectedPackets, 'every packet');
  t.equal(j.totals.bytes, expectedBytes, 'every byte');
  t.ok(j.series.length >= sizes.length, `one interval or more each (${j.series.length})`);
  // the flows as each interval's listener read them
  const wrong = j.flows.filter((f) => perFlow.get(`${f.src}:${f.srcPort}`) !== f.bytes || f.packets !== 1);
  t.equal(j.flows.length, perFlow.size, 'every flow once');
  t.same(wrong.slice(0, 3), [], 'each with its own bytes');
  t.equal(j.sessions.ended, perFlow.size, 'a session each');
  t.equal(j.talkers.proto.rows.find((r) => r.key === 'udp')?.bytes, expectedBytes, 'the protocol talkers: every byte is UDP');
  t.equal(j.talkers.ip.total.bytes, expectedBytes, 'the remote talkers sum to every byte');
  t.equal(j.talkers.ip.total.connections, perFlow.size, 'a connection each');
  t.equal(j.traffic.reduce((a, r) => a + r.bytes, 0), expectedBytes, 'the traffic by direction and scope too');
});
