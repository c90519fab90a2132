/**
 * Filtered traffic is gone from everything but the interface totals — the
 * NDJSON "flow" lines included: two UDP flows replayed onto a real veth, one of
 * them on an ignored port; `flowlens run --format ndjson` prints flow lines and
 * sessions for the other only, and the interface totals still hold both (the
 * kernel counted them).
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { CliRun, cliBuilt } from '../helpers/flowlens-cli.js';

const SRC_MAC = '02:e2:e6:00:00:01';
const DST_MAC = '02:e2:e6:00:00:02';

t.test('an ignored port: no flow lines, no session, still in the interface totals', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-filter-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const x = 1 + (process.pid % 250);
  const frame = (dstPort: number) => ipFrame(DST_MAC, SRC_MAC, { src: `10.232.${x}.2`, dst: `10.232.${x}.1`, l4: { proto: 'udp', srcPort: 45000, dstPort, payload: Buffer.alloc(172) } });
  const ignored = frame(46000);
  const kept = frame(47000);
  const w = new PcapWriter();
  for (let i = 0; i < 20; i++) { w.add(ignored.frame); w.add(kept.frame); }
  const pcap = path.join(tmp, 'two.pcap');
  w.write(pcap);
  const config = path.join(tmp, 'flowlens.yaml');
  writeFileSync(config, 'filters:\n  ignore:\n    - port: [46000]\n');

  const lab = createLab(t, { tag: 'fi', layout: 'namespaces' });
  const fl = CliRun.start(lab, lab.a, ['--interval', '500ms', '--config', config, '--no-history', '--no-api']);
  t.ok(await fl.waitFor((r) => r.lines > 0, 30_000), `first output ${fl.stderr}`);
  const r = await lab.run(lab.b, 'tcpreplay', ['--topspeed', '-i', lab.b.name, pcap], 30_000);
  t.match(r.stdout, /Successful packets:\s+40\b/, 'tcpreplay sent 40 frames');
  t.ok(await fl.waitFor((f) => f.stdout.includes('"dstPort":47000'), 15_000), 'the kept flow was counted');
  const exit = await fl.stop('SIGTERM');
  t.equal(exit.code, 0, fl.stderr);
  const objects = fl.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const flows = objects.filter((o) => o.type === 'flow' && o.ipVersion === 4 && o.src === `10.232.${x}.2`);
  t.same([...new Set(flows.map((f) => f.dstPort))], [47000], 'flow lines only for the kept port');
  t.equal(flows.reduce((a, f) => a + f.packets, 0), 20, 'all 20 of its packets');
  const totals = objects.filter((o) => o.type === 'totals' && o.iface === lab.a.name);
  const ipPackets = totals.reduce((a, o) => a + o.ingress.packets, 0);
  t.ok(ipPackets >= 40, `the interface totals hold both flows (${ipPackets} ingress packets)`);
  const sessions = objects.filter((o) => o.type === 'session' && o.remote === `10.232.${x}.2`);
  t.same(sessions.map((s) => s.remotePort), [45000], 'one session: the kept flow\'s');
  t.equal(sessions[0]?.localPort, 47000);
});
