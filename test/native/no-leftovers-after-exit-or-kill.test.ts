/**
 * A process that attached flowlens and then dies without close() — by
 * process.exit(), by an uncaught exception, or by SIGKILL — leaves nothing
 * attached: XDP and TCX attachments are BPF links, which the kernel detaches
 * when the process's file descriptors close.
 *
 * The child reports what it attached; the parent checks, from outside the
 * addon, that its attachments were visible while it lived (bpftool for XDP,
 * the child's /proc/<pid>/fdinfo for every link) and that after its death
 * none of its links or programs exist, bpftool shows no flowlens program on
 * the device, and a new collector can attach there.
 */
import t from 'tap';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { loadAddon } from '../../src/native/binding.js';
import { vethPair } from '../helpers/veth.js';
import { bpfHeldBy, flowlensOn, linkIds, progIds, until } from '../helpers/bpf-inspect.js';
import { fixtures, firstRecord, spawnNode } from '../helpers/child-process.js';

const TCX_INGRESS = 46;
const TCX_EGRESS = 47;

type How = 'exit' | 'throw' | 'SIGKILL';

const scenarios: [How, 'xdp' | 'tc'][] = [
  ['exit', 'xdp'],
  ['SIGKILL', 'xdp'],
  ['exit', 'tc'],
  ['SIGKILL', 'tc'],
  ['throw', 'xdp'],
];

t.test('a child that dies without close() leaves nothing attached', async (t) => {
  if (!requireKernel(t)) return;
  const { Collector } = loadAddon();
  const probe = new Collector(64);
  t.teardown(() => probe.close());

  let n = 0;
  for (const [how, hook] of scenarios) {
    await t.test(`${how} after attaching with --hook ${hook}`, async (t) => {
      const pair = vethPair(t, `k${n++}`);
      const child = spawnNode([path.join(fixtures, 'attach-child.cjs'), String(pair.ifindex), hook, 'auto']);
      let exited = false;
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on('exit', (code, signal) => { exited = true; resolve({ code, signal }); });
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      t.teardown(() => { if (!exited) child.kill('SIGKILL'); });

      const ready = await firstRecord(child);
      t.match(ready, { ready: true, info: { ingress: hook === 'xdp' ? /^xdp-/ : 'tcx', egress: 'tcx' } }, 'the child attached');
      t.equal(ready.pid, child.pid, 'the reporting process is the one we will end');

      // what the child holds, and that it is visible from outside
      const held = bpfHeldBy(child.pid!);
      const links = held.links.filter((l) => l.ifindex === pair.ifindex);
      if (hook === 'xdp') {
        t.match(links.map((l) => [l.type, l.attachType]).sort(), [['tcx', TCX_EGRESS], ['xdp', undefined]], 'an XDP link and a TCX egress link');
      } else {
        t.same(links.map((l) => l.attachType).sort(), [TCX_INGRESS, TCX_EGRESS], 'TCX ingress and egress links');
      }
      const seen = flowlensOn(pair.host);
      if (hook === 'xdp') t.ok(seen.some((e) => e.kind === 'xdp' && e.name === 'flowlens_xdp'), 'bpftool shows flowlens_xdp on the device');
      t.ok(seen.every((e) => held.progIds.includes(e.id)), `every flowlens program bpftool shows there is the child's: ${JSON.stringify(seen)}`);
      t.throws(() => probe.attach(pair.ifindex, hook, 'auto'), { code: 'FLOW_ERR_ALREADY_ATTACHED', message: /another flowlens is already attached/ },
        'another collector sees it attached');

      // the end, without close()
      if (how === 'SIGKILL') child.kill('SIGKILL');
      else child.stdin.write(`${how}\n`);
      const { code, signal } = await exit;
      if (how === 'SIGKILL') t.equal(signal, 'SIGKILL', 'killed');
      else if (how === 'exit') t.same({ code, signal }, { code: 0, signal: null }, 'exited with 0');
      else t.same({ code, signal }, { code: 1, signal: null }, 'exited with 1 after the uncaught exception');
      if (how !== 'throw') t.equal(stderr, '', 'nothing on stderr');

      // nothing of it is left
      const linkSet = links.map((l) => l.id);
      t.ok(await until(() => { const live = linkIds(); return linkSet.every((id) => !live.has(id)); }), `its links ${linkSet.join(', ')} are gone`);
      t.ok(await until(() => { const live = progIds(); return held.progIds.every((id) => !live.has(id)); }), `its programs ${held.progIds.join(', ')} are unloaded`);
      t.same(flowlensOn(pair.host), [], 'bpftool shows no flowlens program on the device');
      const info = probe.attach(pair.ifindex, hook, 'auto');
      t.match(info, { egress: 'tcx' }, 'a new collector can attach there');
      probe.detach(pair.ifindex);
      t.same(flowlensOn(pair.host), [], 'and detach again');
    });
  }
});
