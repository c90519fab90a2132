/**
 * A flow table far smaller than the traffic (`--map-size 8`, 200 distinct UDP
 * flows replayed into and out of the monitored interface): packets that find
 * the table full are counted in the overflow aggregate, so the per-interface
 * totals still equal the truth exactly, and overflowPackets > 0.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, type End, type Lab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame, type BuiltFrame } from '../helpers/packets.js';
import { CliRun, cliBuilt } from '../helpers/flowlens-cli.js';
import { TruthTable, flowIdKey, type Dir } from '../helpers/tally.js';

const MAP_SIZE = 8;
const FLOWS = 200;
const SRC_MAC = '02:e2:e3:00:00:01';
const DST_MAC = '02:e2:e3:00:00:02'; // nobody's: dropped as PACKET_OTHERHOST after the hooks

function buildCapture(x: number): { frames: BuiltFrame[]; truth: TruthTable } {
  const frames: BuiltFrame[] = [];
  // 150 IPv4 and 50 IPv6 flows, 1 to 4 packets each, sizes spread over 28..1500 bytes L3
  const perFlow: BuiltFrame[][] = [];
  for (let i = 0; i < FLOWS; i++) {
    const v6 = i >= 150;
    const src = v6 ? `fd00:e2e:${x.toString(16)}::${(1 + (i % 7)).toString(16)}` : `10.231.${x}.${1 + (i % 7)}`;
    const dst = v6 ? `fd00:e2e:${x.toString(16)}::${(100 + (i % 3)).toString(16)}` : `10.231.${x}.${100 + (i % 3)}`;
    const n = 1 + (i % 4);
    perFlow.push(Array.from({ length: n }, (_, k) => ipFrame(DST_MAC, SRC_MAC, {
      src, dst, l4: { proto: 'udp', srcPort: 20000 + i, dstPort: 30000 + (i % 11), payload: Buffer.alloc(((i * 37 + k * 331) % 1400) + (v6 ? 0 : 52)) },
    })));
  }
  // interleave: flow i's packets are spread over the whole capture
  for (let k = 0; k < 4; k++) for (const p of perFlow) if (k < p.length) frames.push(p[k]);
  const truth = new TruthTable();
  for (const f of frames) truth.add(f);
  return { frames, truth };
}

async function replay(lab: Lab, where: End, file: string, expected: number): Promise<void> {
  const r = await lab.run(where, 'tcpreplay', ['--topspeed', '-i', where.name, file], 30_000);
  if (r.code !== 0 || !new RegExp(`Successful packets:\\s+${expected}\\b`).test(r.stdout)) {
    throw new Error(`tcpreplay did not send all ${expected} frames (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-overflow-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

for (const hook of ['xdp', 'tc'] as const) {
  t.test(`--map-size ${MAP_SIZE}, ${FLOWS} flows, ${hook} hook: totals stay exact, the rest is overflow`, async (t) => {
    if (!requireKernel(t)) return;
    t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
    const lab = createLab(t, { tag: 'ov', layout: 'root', features: { gro: 'off' } });
    const mon = lab.a;
    const { frames, truth } = buildCapture(1 + (process.pid % 250));
    t.equal(truth.flows.size, FLOWS, `${FLOWS} distinct flows, ${frames.length} packets`);
    const file = path.join(tmp, `overflow-${hook}.pcap`);
    const pcap = new PcapWriter();
    for (const f of frames) pcap.add(f.frame);
    pcap.write(file);

    const fl = CliRun.start(lab, mon, ['--map-size', String(MAP_SIZE), '--interval', '500ms', '--hook', hook]);
    t.ok(await fl.waitFor((r) => r.lines > 0, 30_000), `flowlens is running ${fl.stderr}`);

    await replay(lab, lab.b, file, frames.length); // into the monitored interface
    await replay(lab, mon, file, frames.length); // out of it, through TC egress
    // wait for the intervals that hold the replays (5 s at most), then stop: the last interval is drained too
    await fl.waitFor((r) => r.tally.totals(mon.name, 'ingress').packets >= truth.packets &&
      r.tally.totals(mon.name, 'egress').packets >= truth.packets, 5000);
    const exit = await fl.stop('SIGTERM');
    t.equal(exit.code, 0, 'flowlens exited 0');
    // the one thing on stderr: the full table, said once (once a minute at most), with the size to set
    const lines = fl.stderr.split('\n').filter(Boolean);
    t.equal(lines.length, 1, `one line on stderr:\n${fl.stderr}`);
    const m = /^flowlens: the kernel flow table is full: --map-size 8 held \d+ flows of the last interval, about \d+ more did not fit .* set --map-size (\d+) /.exec(lines[0] ?? '');
    const suggested = Number(m?.[1]);
    t.ok(suggested > MAP_SIZE && (suggested & (suggested - 1)) === 0, `it names a larger power of two to set (${suggested})`);

    const { tally } = fl;
    t.ok(tally.maxFlowsPerInterval <= MAP_SIZE, `never more than ${MAP_SIZE} flows in an interval (most: ${tally.maxFlowsPerInterval})`);
    for (const dir of ['ingress', 'egress'] as Dir[]) {
      const tot = tally.totals(mon.name, dir);
      t.equal(tot.packets, truth.packets, `${dir}: total packets exact (${truth.packets})`);
      t.equal(tot.bytes, truth.bytes, `${dir}: total bytes exact (${truth.bytes})`);
      t.ok(tot.overflowPackets > 0, `${dir}: overflowPackets > 0 (${tot.overflowPackets})`);
      t.ok(tot.overflowBytes > 0, `${dir}: overflowBytes > 0 (${tot.overflowBytes})`);
      const listed = tally.list(mon.name, dir);
      const inFlows = listed.reduce((n, f) => ({ packets: n.packets + f.packets, bytes: n.bytes + f.bytes }), { packets: 0, bytes: 0 });
      t.same({ packets: inFlows.packets + tot.overflowPackets, bytes: inFlows.bytes + tot.overflowBytes },
        { packets: truth.packets, bytes: truth.bytes }, `${dir}: flows + overflow = truth`);
      // a flow the table did hold never shows more than it carried
      const over = listed.filter((f) => {
        const want = truth.flows.get(flowIdKey(f));
        return !want || f.packets > want.packets || f.bytes > want.bytes;
      });
      t.same(over.map((f) => flowIdKey(f)), [], `${dir}: every listed flow is a real flow and within its truth`);
      t.same({ nonIp: tot.nonIpPackets, malformed: tot.malformedPackets }, { nonIp: 0, malformed: 0 }, `${dir}: no other packets`);
    }
  });
}
