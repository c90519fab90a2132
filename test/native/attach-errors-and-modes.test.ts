/**
 * Attaching: the same interface twice, a second flowlens where one already
 * counts, and XDP where a foreign XDP program sits are clear errors that
 * leave everything as it was; native and generic XDP and TCX attach and are
 * reported as such (checked against bpftool); detach then re-attach works and
 * counts traffic again.
 */
import t from 'tap';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { loadAddon, repoRoot, type NativeCollector } from '../../src/native/binding.js';
import { FlowBatch } from '../../src/collector/decode.js';
import { ClockOffset } from '../../src/collector/clock.js';
import { IfaceRecord } from '../../src/collector/layout.gen.js';
import { ip, pingFromPeer, vethPair } from '../helpers/veth.js';
import { flowlensOn, netShow } from '../helpers/bpf-inspect.js';

const benchObject = path.join(repoRoot, 'build/bpf/bench.bpf.o');

/** Drains and keeps the ICMP flows of one interface. */
async function icmpFlows(c: NativeCollector, ifindex: number) {
  const buf = Buffer.alloc(c.bufferSize);
  const r = await c.drain(buf);
  return new FlowBatch(buf, r.flowsOffset, r.flows, ClockOffset.now()).flows()
    .filter((f) => f.ifindex === ifindex && f.protocol === 1);
}

t.test('attach errors and modes', async (t) => {
  if (!requireKernel(t)) return;
  const { Collector } = loadAddon();
  const a = new Collector(1024);
  const b = new Collector(1024);
  t.teardown(() => { a.close(); b.close(); });

  await t.test('the same interface twice in one collector: FLOW_ERR_ALREADY_ATTACHED', async (t) => {
    const pair = vethPair(t, 'a');
    t.same(a.attach(pair.ifindex, 'xdp', 'auto'), { ingress: 'xdp-native', egress: 'tcx' });
    for (const hook of ['xdp', 'tc'] as const) {
      t.throws(() => a.attach(pair.ifindex, hook, 'generic'), {
        code: 'FLOW_ERR_ALREADY_ATTACHED', message: `already attached to ${pair.host}`,
      }, `again with --hook ${hook}`);
    }
    t.match(flowlensOn(pair.host), [{ kind: 'xdp', name: 'flowlens_xdp', mode: 'driver' }], 'still the first attachment');
    a.detach(pair.ifindex);
    t.same(flowlensOn(pair.host), [], 'detached');
    t.throws(() => a.detach(pair.ifindex), { code: 'FLOW_ERR_NOT_ATTACHED', message: `not attached to ${pair.host}` }, 'detach twice');
  });

  await t.test('a second collector where one is attached: "another flowlens is already attached"', async (t) => {
    const pair = vethPair(t, 'b');
    a.attach(pair.ifindex, 'xdp', 'native');
    const before = netShow(pair.host);
    for (const [hook, mode] of [['xdp', 'auto'], ['xdp', 'generic'], ['tc', 'auto']] as const) {
      t.throws(() => b.attach(pair.ifindex, hook, mode), {
        code: 'FLOW_ERR_ALREADY_ATTACHED',
        message: new RegExp(`^another flowlens is already attached to ${pair.host} \\(.*flowlens_.*\\)\\. Stop it first`),
      }, `--hook ${hook} --xdp-mode ${mode}`);
      t.same(netShow(pair.host), before, 'the failed attach changed nothing');
    }
    a.detach(pair.ifindex);
    // the other way round, through TC: the second is refused by the TCX check
    a.attach(pair.ifindex, 'tc', 'auto');
    for (const hook of ['xdp', 'tc'] as const) {
      t.throws(() => b.attach(pair.ifindex, hook, 'auto'), {
        code: 'FLOW_ERR_ALREADY_ATTACHED', message: /^another flowlens is already attached to .* \(TC (ingress|egress) program flowlens_tc_(in|eg)/,
      }, `--hook ${hook} where the first uses TC`);
    }
    t.equal(flowlensOn(pair.host).filter((e) => e.kind === 'xdp').length, 0, 'the refused XDP attach left no XDP program');
    a.detach(pair.ifindex);
    // once the first has gone, the second can
    t.same(b.attach(pair.ifindex, 'xdp', 'auto'), { ingress: 'xdp-native', egress: 'tcx' });
    b.detach(pair.ifindex);
  });

  await t.test('--hook xdp next to a foreign XDP program: FLOW_ERR_XDP_BUSY pointing to --hook tc', async (t) => {
    const pair = vethPair(t, 'c');
    ip('link', 'set', 'dev', pair.host, 'xdp', 'obj', benchObject, 'sec', 'xdp', 'program', 'bench_xdp_empty');
    t.teardown(() => { try { ip('link', 'set', 'dev', pair.host, 'xdp', 'off'); } catch { /* link gone */ } });
    const foreign = netShow(pair.host);
    t.match(foreign, [{ kind: 'xdp', name: 'bench_xdp_empty', mode: 'driver' }], 'the foreign program is attached');
    t.equal(loadAddon().xdpSupport(pair.ifindex).progId, foreign[0].id, 'xdpSupport reports its id');
    for (const mode of ['auto', 'native', 'generic'] as const) {
      t.throws(() => a.attach(pair.ifindex, 'xdp', mode), {
        code: 'FLOW_ERR_XDP_BUSY',
        message: new RegExp(`^${pair.host} already has an XDP program \\(bench_xdp_empty, id ${foreign[0].id}\\); XDP allows one\\. Use --hook tc`),
      }, `--xdp-mode ${mode}`);
      t.same(netShow(pair.host), foreign, 'nothing attached, the foreign program untouched');
    }
    // TC counts next to it
    t.same(a.attach(pair.ifindex, 'tc', 'auto'), { ingress: 'tcx', egress: 'tcx' });
    const both = netShow(pair.host);
    t.match(both.find((e) => e.kind === 'xdp'), { name: 'bench_xdp_empty', id: foreign[0].id }, 'the foreign program stays');
    a.detach(pair.ifindex);
    t.same(netShow(pair.host), foreign, 'detach removed only ours');
  });

  await t.test('native, generic and TC attach, report their mode, detach and re-attach', async (t) => {
    const pair = vethPair(t, 'd', { addresses: true });
    const cases = [
      ['xdp', 'native', { ingress: 'xdp-native', egress: 'tcx' }, 'driver'],
      ['xdp', 'generic', { ingress: 'xdp-generic', egress: 'tcx' }, 'generic'],
      ['xdp', 'auto', { ingress: 'xdp-native', egress: 'tcx' }, 'driver'],
      ['tc', 'auto', { ingress: 'tcx', egress: 'tcx' }, undefined],
      ['tc', 'generic', { ingress: 'tcx', egress: 'tcx' }, undefined], // xdpMode is moot with TC
    ] as const;
    for (const [hook, mode, info, bpftoolMode] of cases) {
      for (const round of ['attach', 're-attach']) {
        t.same(a.attach(pair.ifindex, hook, mode), info, `${round} --hook ${hook} --xdp-mode ${mode}`);
        const xdp = netShow(pair.host).filter((e) => e.kind === 'xdp');
        if (bpftoolMode) t.match(xdp, [{ name: 'flowlens_xdp', mode: bpftoolMode }], `bpftool: XDP in ${bpftoolMode} mode`);
        else t.same(xdp, [], 'bpftool: no XDP program');
        // it counts: an echo request in, a reply out
        await icmpFlows(a, pair.ifindex); // start from an empty interval
        pingFromPeer(pair, 2);
        const flows = await icmpFlows(a, pair.ifindex);
        t.match(flows.find((f) => f.direction === 'ingress'), { src: pair.peerAddr, dst: pair.hostAddr, packets: 2, bytes: 2 * 84 }, 'counts the requests (ingress)');
        t.match(flows.find((f) => f.direction === 'egress'), { src: pair.hostAddr, dst: pair.peerAddr, packets: 2, bytes: 2 * 84 }, 'counts the replies (egress)');
        a.detach(pair.ifindex);
        t.same(flowlensOn(pair.host), [], 'detached: nothing of flowlens on the device');
      }
    }
    // detached: traffic is no longer counted
    await icmpFlows(a, pair.ifindex);
    pingFromPeer(pair, 1);
    t.same(await icmpFlows(a, pair.ifindex), [], 'nothing counted after detach');
  });

  await t.test('--xdp-mode native where the driver has no XDP: a clear error; auto falls back to generic', async (t) => {
    const dev = `fl${process.pid}i`;
    ip('link', 'add', dev, 'type', 'ifb');
    t.teardown(() => { try { ip('link', 'del', dev); } catch { /* gone */ } });
    const ifindex = Number(readFileSync(`/sys/class/net/${dev}/ifindex`, 'utf8'));
    t.equal(loadAddon().xdpSupport(ifindex).native, false, 'ifb has no native XDP');
    t.throws(() => a.attach(ifindex, 'xdp', 'native'), {
      message: new RegExp(`^cannot attach XDP in native \\(driver\\) mode to ${dev}: .*Use --xdp-mode generic, or --hook tc\\.$`),
    });
    t.same(netShow(dev), [], 'the failed attach left nothing');
    t.same(a.attach(ifindex, 'xdp', 'auto'), { ingress: 'xdp-generic', egress: 'tcx' }, 'auto falls back to generic');
    t.match(netShow(dev).filter((e) => e.kind === 'xdp'), [{ name: 'flowlens_xdp', mode: 'generic' }]);
    a.detach(ifindex);
    t.same(flowlensOn(dev), []);
  });
});

t.test('the interfaces this file made are gone', async (t) => {
  if (!requireKernel(t)) return;
  const left = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`fl${process.pid}`));
  t.same(left, []);
});
