/**
 * The life of `flowlens run` as a process: it attaches (bpftool sees its
 * programs), SIGTERM makes it print the last interval, exit 0 and detach;
 * SIGKILL leaves nothing attached either (links die with the process). A
 * second flowlens on the same interface, an unknown interface and missing
 * privileges each fail with a clear message, a non-zero exit and no stack trace.
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, type End, type Lab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { readableCheckout } from '../helpers/readable-checkout.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { flowIdKey, flowKey } from '../helpers/tally.js';
import { Collector, defaultConfig } from '../../src/collector/index.js';

const SRC_MAC = '02:e2:e5:00:00:01';
const DST_MAC = '02:e2:e5:00:00:02'; // nobody's: dropped as PACKET_OTHERHOST after the hooks
const STACK_LINE = /^\s+at /m;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-life-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** 25 UDP frames of one flow, 200 bytes L3 each. */
function writeCapture(file: string) {
  const x = 1 + (process.pid % 250);
  const f = ipFrame(DST_MAC, SRC_MAC, { src: `10.231.${x}.2`, dst: `10.231.${x}.1`,
    l4: { proto: 'udp', srcPort: 45000, dstPort: 46000, payload: Buffer.alloc(200 - 28) } });
  const w = new PcapWriter();
  for (let i = 0; i < 25; i++) w.add(f.frame);
  w.write(file);
  return { flow: f.flow!, packets: 25, bytes: 25 * f.l3Bytes };
}

async function replay(lab: Lab, where: End, file: string): Promise<void> {
  const r = await lab.run(where, 'tcpreplay', ['--topspeed', '-i', where.name, file], 30_000);
  if (r.code !== 0 || !/Successful packets:\s+25\b/.test(r.stdout)) throw new Error(`tcpreplay failed:\n${r.stdout}\n${r.stderr}`);
}

function progs(lab: Lab, e: End): string[] {
  return lab.attached(e).map((p) => `${p.hook} ${p.name}`).sort();
}

const XDP_PROGS = ['tcx/egress flowlens_tc_eg', 'xdp/driver flowlens_xdp'];
const TC_PROGS = ['tcx/egress flowlens_tc_eg', 'tcx/ingress flowlens_tc_in'];

/** Runs the CLI to completion in a namespace with extra words before it (e.g. setpriv ...). */
function runCli(lab: Lab, where: End, args: string[], prefix: string[] = [], root?: string) {
  const [cmd, rest] = cliCommand(args, root);
  return prefix.length ? lab.run(where, prefix[0], [...prefix.slice(1), cmd, ...rest], 30_000) : lab.run(where, cmd, rest, 30_000);
}

t.test('SIGTERM: attached while running, prints the last interval, exits 0, detaches', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  const lab = createLab(t, { tag: 'lc', layout: 'namespaces' });
  const file = path.join(tmp, 'term.pcap');
  const truth = writeCapture(file);
  t.same(progs(lab, lab.a), [], 'nothing attached before');

  // a long interval: the traffic sent after the first interval can only be reported by the last one
  const fl = CliRun.start(lab, lab.a, ['--interval', '4s']);
  t.ok(await fl.waitFor((r) => r.lines > 0, 30_000), `first output ${fl.stderr}`);
  t.same(progs(lab, lab.a), XDP_PROGS, 'bpftool shows the XDP and TCX egress programs attached');
  const linesBefore = fl.lines;
  await replay(lab, lab.b, file);
  const killedAt = Date.now();
  const exit = await fl.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'exit code 0 after SIGTERM');
  t.equal(fl.stderr, '', 'nothing on stderr');
  t.same(progs(lab, lab.a), [], 'nothing attached after exit');

  const last = fl.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.ok(fl.lines > linesBefore, 'it printed after SIGTERM');
  const lastTotals = last.filter((o) => o.type === 'totals').at(-1);
  t.ok(lastTotals && lastTotals.end >= killedAt - 50, 'the last interval ends after SIGTERM');
  t.match(lastTotals, { iface: lab.a.name, ingress: { packets: truth.packets, bytes: truth.bytes } },
    'the last interval holds the traffic sent after the previous one');
  const f = fl.tally.flows.get(flowKey(lab.a.name, 'ingress', truth.flow));
  t.same({ packets: f?.packets, bytes: f?.bytes }, { packets: truth.packets, bytes: truth.bytes }, `flow ${flowIdKey(truth.flow)} exact`);
});

t.test('SIGKILL: nothing stays attached after the process dies', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'lk', layout: 'namespaces' });
  for (const [hook, want] of [['xdp', XDP_PROGS], ['tc', TC_PROGS]] as const) {
    const fl = CliRun.start(lab, lab.a, ['--interval', '500ms', '--hook', hook]);
    t.ok(await fl.waitFor((r) => r.lines > 0, 30_000), `${hook}: first output ${fl.stderr}`);
    t.same(progs(lab, lab.a), want, `${hook}: attached`);
    const exit = await fl.stop('SIGKILL');
    t.equal(exit.signal, 'SIGKILL', `${hook}: killed`);
    // the kernel releases a link when its last file descriptor closes; allow it a moment
    const left = await waitFor(() => progs(lab, lab.a).length === 0, 3000);
    t.ok(left, `${hook}: nothing attached after SIGKILL (${progs(lab, lab.a).join(', ') || 'none'})`);
  }
});

t.test('a second flowlens on the same interface fails clearly and leaves the first alone', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'ls', layout: 'namespaces' });
  const first = CliRun.start(lab, lab.a, ['--interval', '500ms']);
  t.ok(await first.waitFor((r) => r.lines > 0, 30_000), `first flowlens runs ${first.stderr}`);
  const ids = lab.attached(lab.a).map((p) => p.id).sort();
  for (const hook of ['xdp', 'tc']) {
    const r = await runCli(lab, lab.a, ['run', '--iface', lab.a.name, '--format', 'ndjson', '--hook', hook]);
    t.not(r.code, 0, `--hook ${hook}: exit code non-zero (${r.code})`);
    t.match(r.stderr, /already attached/, `--hook ${hook}: says "already attached"`);
    t.equal(r.stderr.trim().split('\n').length, 1, `--hook ${hook}: one line: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, STACK_LINE, `--hook ${hook}: no stack trace`);
    t.notMatch(r.stderr, /unexpected error/, `--hook ${hook}: an expected error`);
    t.equal(r.stdout, '', `--hook ${hook}: nothing on stdout`);
    t.same(lab.attached(lab.a).map((p) => p.id).sort(), ids, `--hook ${hook}: the first flowlens's programs are still attached`);
  }
  t.equal(first.child.exitCode, null, 'the first flowlens still runs');
  t.same(await first.stop('SIGTERM'), { code: 0, signal: null }, 'and stops cleanly');
  t.same(progs(lab, lab.a), [], 'nothing attached after');
});

t.test('an unknown interface is an error that lists the interfaces', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'lu', layout: 'namespaces' });
  const name = `nosuch${process.pid}`.slice(0, 15);
  const r = await runCli(lab, lab.a, ['run', '--iface', name, '--format', 'ndjson']);
  t.not(r.code, 0, `exit code non-zero (${r.code})`);
  t.match(r.stderr, `no interface named "${name}"`, 'names the unknown interface');
  // the namespace holds lo and the test's veth end: both must be listed
  const listed = /interfaces on this host: (.*)$/m.exec(r.stderr)?.[1]?.split(', ') ?? [];
  t.ok(listed.includes('lo') && listed.includes(lab.a.name), `lists the interfaces (${listed.join(', ')})`);
  t.notMatch(r.stderr, STACK_LINE, 'no stack trace');
  t.notMatch(r.stderr, /unexpected error/, 'an expected error');
});

t.test('without privileges: the permission error, no stack trace', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'lp', layout: 'namespaces' });
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
  const who = await lab.run(lab.a, drop[0], [...drop.slice(1), 'grep', '^CapEff', '/proc/self/status']);
  t.match(who.stdout, /CapEff:\s+0+\s*$/, 'the unprivileged process has no capabilities');
  const r = await runCli(lab, lab.a, ['run', '--iface', lab.a.name, '--format', 'ndjson'], drop, readableCheckout(t));
  t.not(r.code, 0, `exit code non-zero (${r.code})`);
  t.match(r.stderr, /needs root or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON/, `permission error: ${r.stderr.trim()}`);
  t.notMatch(r.stderr, STACK_LINE, 'no stack trace');
  t.notMatch(r.stderr, /unexpected error/, 'an expected error');
  t.same(progs(lab, lab.a), [], 'nothing attached');
});

t.test('stop() while a periodic drain is running ends the collector: no drain after it', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'lt', layout: 'root' });
  const collector = Collector.open({ ...defaultConfig(), interfaces: [lab.a.name], intervalMs: 100 });
  t.teardown(() => collector.closeNow());
  const errors: string[] = [];
  collector.on('error', (e) => errors.push(e.message));
  let intervals = 0;
  collector.on('interval', () => { intervals++; });
  collector.start();
  // 'interval' is emitted inside the periodic drain, before it settles: stop() right there is
  // the stop that races with the drain (SIGTERM or --duration landing during a drain)
  const stopped = await new Promise<Promise<void>>((resolve) => collector.once('interval', () => resolve(collector.stop())));
  await stopped;
  const after = intervals;
  await new Promise((r) => setTimeout(r, 500));
  t.equal(intervals, after, 'no interval after stop()');
  t.same(errors, [], 'no drain attempted after stop()');
  t.same(progs(lab, lab.a), [], 'nothing attached after stop()');
});
