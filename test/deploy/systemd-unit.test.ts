/**
 * deploy/flowlens.service, checked by what runs here (systemd is not PID 1 in
 * a test): `systemd-analyze verify` has nothing to say about it (and does
 * about a broken copy), its security exposure stays low, it runs as the
 * flowlens user with exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, keeps its
 * state in /var/lib/flowlens and restarts on failure. And those capabilities
 * are enough: flowlens counts as an unprivileged user holding only them, with
 * a 64 KiB RLIMIT_MEMLOCK (no CAP_SYS_RESOURCE, no CAP_IPC_LOCK needed).
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor } from '../helpers/netns.js';
import { cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { readableCheckout } from '../helpers/readable-checkout.js';

const UNIT = path.join(repoRoot, 'deploy/flowlens.service');
const CAPS = ['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON'];

function verify(file: string): { code: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** [Section] → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      current = new Map();
      sections.set(head[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq), value = line.slice(eq + 1);
    current!.set(key, [...(current!.get(key) ?? []), value]);
  }
  return sections;
}

t.test('systemd-analyze verify: no complaint', async (t) => {
  const r = verify(UNIT);
  t.equal(r.code, 0, 'exit 0');
  t.equal(r.output, '', 'no warning either');

  // the same check on a broken copy does complain: the test above can fail
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broken = path.join(dir, 'flowlens.service');
  writeFileSync(broken, readFileSync(UNIT, 'utf8').replace('Restart=on-failure', 'Restrat=on-failure'));
  t.match(verify(broken).output, /Unknown key 'Restrat'/);
});

t.test('security exposure as systemd rates it', async (t) => {
  const out = execFileSync('systemd-analyze', ['security', '--offline=true', UNIT], { encoding: 'utf8' });
  const m = /Overall exposure level for flowlens\.service: (\d+\.\d+)/.exec(out);
  t.ok(m, 'an overall rating');
  t.ok(Number(m![1]) <= 3.0, `exposure ${m![1]} (0 safest, 10 unsafe) is at most 3.0`);
});

t.test('user, capabilities, state, restarts', async (t) => {
  const s = parseUnit(readFileSync(UNIT, 'utf8')).get('Service')!;
  const one = (k: string) => s.get(k)?.at(-1);
  t.equal(one('User'), 'flowlens');
  t.equal(one('Group'), 'flowlens');
  t.equal(one('DynamicUser'), undefined, 'a real user: the history files keep their owner across restarts');
  t.same(one('AmbientCapabilities')?.split(/\s+/).sort(), CAPS);
  t.same(one('CapabilityBoundingSet')?.split(/\s+/).sort(), CAPS);
  t.equal(one('StateDirectory'), 'flowlens', '/var/lib/flowlens');
  t.equal(one('Restart'), 'on-failure');
  t.equal(one('NoNewPrivileges'), 'yes');
  t.equal(one('ProtectSystem'), 'strict');
  t.match(one('SystemCallFilter'), /@system-service.*\bbpf\b/, 'the bpf() syscall allowed next to @system-service');
  t.match(one('RestrictAddressFamilies'), /AF_NETLINK/, 'netlink for attaching');
  t.match(one('ExecStart'), /^\/usr\/bin\/node --max-semi-space-size=64 \/opt\/flowlens\/dist\/src\/cli\.js run --config \/etc\/flowlens\/flowlens\.yaml --format none$/,
    'node with the young generation bin/flowlens gives it (src/system/heap.ts)');
  const words = one('ExecStart')!.split(' ');
  const nodeFlags = words.slice(1, words.findIndex((w) => w.endsWith('cli.js')));
  const accepted = spawnSync(process.execPath, [...nodeFlags, '-e', ''], { encoding: 'utf8' });
  t.equal(accepted.status, 0, `this node accepts the unit's flags ${nodeFlags.join(' ')}: ${accepted.stderr}`);
  t.ok(existsInRepo('src/cli.ts'), 'the entry point it names is built from src/cli.ts');
});

function existsInRepo(p: string): boolean {
  try { readFileSync(path.join(repoRoot, p)); return true; } catch { return false; }
}

t.test('the unit\'s capabilities suffice: an unprivileged user with only them counts, with a 64 KiB memlock limit', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  const lab = createLab(t, { tag: 'su', layout: 'namespaces', addresses: true });
  const caps = '+bpf,+net_admin,+perfmon';
  const prefix = ['prlimit', '--memlock=65536:65536', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
    `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=-all,${caps}`];
  const who = await lab.run(lab.a, prefix[0], [...prefix.slice(1), 'grep', '-E', '^(CapEff|Uid)', '/proc/self/status']);
  // CAP_NET_ADMIN = 12, CAP_PERFMON = 38, CAP_BPF = 39
  t.match(who.stdout, /CapEff:\s+000000c000001000\s*$/m, `only the three capabilities: ${who.stdout.trim()}`);
  t.match(who.stdout, /^Uid:\s+65534\b/m, 'not root');
  const memlock = await lab.run(lab.a, prefix[0], [...prefix.slice(1), 'sh', '-c', 'ulimit -l']);
  t.equal(memlock.stdout.trim(), '64', 'RLIMIT_MEMLOCK 64 KiB');

  const [cmd, args] = cliCommand(['run', '--iface', lab.a.name, '--format', 'ndjson', '--duration', '4s'], readableCheckout(t));
  const child = lab.spawn(lab.a, prefix[0], [...prefix.slice(1), cmd, ...args]);
  let stdout = '', stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => stdout.includes('\n') || child.exitCode !== null, 15_000);
  const ping = await lab.run(lab.b, 'ping', ['-c', '3', '-i', '0.2', lab.a.v4!], 10_000);
  t.equal(ping.code, 0, 'ping answered');
  const r = { code: await exited, stdout, stderr };
  t.equal(r.code, 0, `exit 0 ${r.stderr}`);
  t.equal(r.stderr, '', 'nothing on stderr');
  const totals = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; iface?: string; ingress?: { packets: number } })
    .filter((o) => o.type === 'totals' && o.iface === lab.a.name);
  t.ok(totals.length >= 2, 'intervals reported');
  t.ok(totals.reduce((a, o) => a + (o.ingress?.packets ?? 0), 0) >= 3, 'the pings were counted');
});
