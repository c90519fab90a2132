/**
 * `flowlens run` while signals keep arriving (issue 11). The kernel's verifier
 * gives up with EAGAIN whenever a signal is pending for the loading thread,
 * and a load takes seconds.
 *  - Under a profiler (node --cpu-prof at a 50 µs interval: SIGPROF to the main
 *    thread 20,000 times a second, through the whole load) flowlens loads,
 *    attaches to a veth and counts replayed UDP frames exactly, three runs in a
 *    row.
 * (What flowlens says when every retry is interrupted is tested on the error's
 * errno in test/unit/kernel-errors-explained.test.ts: a SIGSTOP storm, which no
 * thread can block, also interrupts libbpf's feature probes, whose cached
 * results then fail the load in ways of their own.)
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { CliRun, cliBuilt } from '../helpers/flowlens-cli.js';

const RUNS = 3;
const FRAMES = 20;
const LOAD_MS = 120_000; // a load takes seconds on a busy 2-core machine, more under a profiler

t.test(`${RUNS} runs under node --cpu-prof --cpu-prof-interval 50: each loads, attaches and counts ${FRAMES} frames exactly`, async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-cpu-prof-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const lab = createLab(t, { tag: 'sig', layout: 'namespaces', addresses: true });
  const { a, b } = lab;

  for (let run = 0; run < RUNS; run++) {
    // a port of its own per run, so each run's flow is told apart
    const dstPort = 47000 + run;
    const w = new PcapWriter();
    const frame = ipFrame(a.mac, b.mac, { src: b.v4!, dst: a.v4!, l4: { proto: 'udp', srcPort: 45000, dstPort, payload: Buffer.alloc(172) } });
    for (let i = 0; i < FRAMES; i++) w.add(frame.frame);
    const pcap = path.join(tmp, `run${run}.pcap`);
    w.write(pcap);
    const profiles = path.join(tmp, `profiles${run}`);

    const fl = CliRun.start(lab, a, ['--interval', '500ms'], ['--cpu-prof', '--cpu-prof-interval', '50', `--cpu-prof-dir=${profiles}`]);
    if (!t.ok(await fl.waitFor((r) => r.lines > 0, LOAD_MS), `run ${run}: loaded and attached, first output\n${fl.stderr}`)) {
      await fl.stop('SIGTERM');
      continue;
    }
    t.ok(lab.attached(a).some((p) => p.hook.startsWith('xdp/')), `run ${run}: the XDP program is attached`);
    const r = await lab.run(b, 'tcpreplay', ['--topspeed', '-i', b.name, pcap], 30_000);
    t.match(r.stdout, new RegExp(`Successful packets:\\s+${FRAMES}\\b`), `run ${run}: tcpreplay sent ${FRAMES} frames`);
    const packets = () => fl.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l) as Record<string, any>)
      .filter((o) => o.type === 'flow' && o.src === b.v4 && o.dstPort === dstPort)
      .reduce((sum, f) => sum + f.packets, 0);
    await fl.waitFor(() => packets() >= FRAMES, 15_000);
    const exit = await fl.stop('SIGTERM');
    t.equal(exit.code, 0, `run ${run}: ends normally\n${fl.stderr}`);
    t.notMatch(fl.stderr, /verifier|cannot load/, `run ${run}: no load error`);
    t.equal(packets(), FRAMES, `run ${run}: exactly the ${FRAMES} frames sent`);
    t.equal(readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile')).length, 1, `run ${run}: the profiler ran (its profile was written)`);
  }
});
