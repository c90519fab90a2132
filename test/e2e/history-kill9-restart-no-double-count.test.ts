/**
 * `flowlens run --data-dir` keeps history of real traffic (frames replayed on a
 * veth pair in the test's namespaces), `flowlens history` and `top` read it while
 * it runs; kill -9 loses at most what came after the last flush; a restarted run
 * adds only its own traffic, and SIGTERM flushes everything — so the history
 * equals the sum of the traffic rows the runs printed, minus at most the one
 * unflushed part, and never more.
 */
import t from 'tap';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, type End, type Lab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { tempDataDir } from '../helpers/intervals.js';

const SRC_MAC = '02:e2:e6:00:00:01';
const DST_MAC = '02:e2:e6:00:00:02'; // nobody's: dropped after the hooks

/** 25 UDP frames, 200 bytes L3 each, from a public-looking address to a private one. */
function writeCapture(file: string): number {
  const x = 1 + (process.pid % 250);
  const f = ipFrame(DST_MAC, SRC_MAC, { src: `198.18.${x}.2`, dst: `10.232.${x}.1`, l4: { proto: 'udp', srcPort: 45000, dstPort: 46000, payload: Buffer.alloc(200 - 28) } });
  const w = new PcapWriter();
  for (let i = 0; i < 25; i++) w.add(f.frame);
  w.write(file);
  return 25 * f.l3Bytes;
}

async function replay(lab: Lab, where: End, file: string): Promise<void> {
  const r = await lab.run(where, 'tcpreplay', ['--topspeed', '-i', where.name, file], 30_000);
  if (r.code !== 0 || !/Successful packets:\s+25\b/.test(r.stdout)) throw new Error(`tcpreplay failed:\n${r.stdout}\n${r.stderr}`);
}

/** `flowlens <args> --format json` outside the namespaces (it only reads the data directory). */
function cliJson(args: string[]): Promise<Record<string, any>> {
  const [cmd, rest] = cliCommand([...args, '--format', 'json']);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let out = '', err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`flowlens ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

/** Bytes of the traffic rows a run printed (what it handed to the store). */
function printed(run: CliRun): number {
  return run.tally.stats.reduce((a: number, s: any) => a + s.traffic.reduce((b: number, r: any) => b + r.bytes, 0), 0);
}

t.test('kill -9 and restart: history never counts twice and loses at most one flush', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  const lab = createLab(t, { tag: 'hk', layout: 'namespaces' });
  const dir = tempDataDir(t, 'e2e-kill9');
  const file = path.join(dir, 'burst.pcap');
  const burst = writeCapture(file);
  const runArgs = ['--interval', '200ms', '--data-dir', dir, '--flush-interval', '1s'];
  const historyTotal = async () => {
    try {
      return (await cliJson(['history', '--data-dir', dir, '--by', 'month'])).total.total as number;
    } catch (e) {
      if (/no history in/.test((e as Error).message)) return 0;
      throw e;
    }
  };

  // run 1: a burst, seen in history while flowlens runs; a second burst, then kill -9
  const first = CliRun.start(lab, lab.a, runArgs);
  t.ok(await first.waitFor((r) => r.lines > 0, 30_000), `run 1 reports ${first.stderr}`);
  await replay(lab, lab.b, file);
  let confirmed = 0;
  await waitFor(async () => (confirmed = await historyTotal()) >= burst, 15_000, 200);
  t.ok(confirmed >= burst, `history shows the first burst while flowlens runs (${confirmed} of ${burst} bytes)`);
  t.ok(confirmed <= printed(first), 'and no more than flowlens counted');
  await replay(lab, lab.b, file);
  await first.waitFor((r) => printed(r) >= confirmed + burst, 5000);
  t.equal((await first.stop('SIGKILL')).signal, 'SIGKILL', 'run 1 killed');
  const afterKill = await historyTotal();
  t.ok(afterKill >= confirmed, `nothing flushed is lost (${afterKill} ≥ ${confirmed})`);
  t.ok(afterKill <= printed(first), `nothing is invented (${afterKill} ≤ ${printed(first)} counted)`);

  // run 2: one more burst, SIGTERM: everything it counted is written, nothing of run 1 again
  const second = CliRun.start(lab, lab.a, runArgs);
  t.ok(await second.waitFor((r) => r.lines > 0, 30_000), `run 2 reports ${second.stderr}`);
  await replay(lab, lab.b, file);
  await second.waitFor((r) => printed(r) >= burst, 5000);
  t.same(await second.stop('SIGTERM'), { code: 0, signal: null }, 'run 2 stops cleanly on SIGTERM');
  const final = await historyTotal();
  t.equal(final, afterKill + printed(second), `history = run 1's flushed part + all of run 2 (${afterKill} + ${printed(second)})`);

  const top = await cliJson(['top', '--data-dir', dir, '--by', 'ip', '--from', 'today', '--to', 'today']);
  t.equal(top.total.bytes, final, 'the talkers add up to the same total (no overflow here)');
  t.match(top.rows[0], { key: `198.18.${1 + (process.pid % 250)}.2` }, 'the replayed remote address is the top talker');
});
