/**
 * `flowlens run --demo` leaves nothing behind, however it stops: Ctrl-C in a
 * terminal (SIGINT to the whole process group, the demo's peer included), SIGTERM
 * to flowlens alone, and --duration. Each time it exits 0 and its namespace, its
 * veth, its directory (history and owner marker) and its BPF attachments are gone.
 * The sweep at start removes an abandoned demo of this host's flowlens, and never
 * one another PID namespace owns or one without a marker.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { flowlensOn } from '../helpers/bpf-inspect.js';
import { waitFor } from '../helpers/netns.js';
import { cliBuilt, CLI } from '../helpers/flowlens-cli.js';

interface Stop { code: number | null; signal: NodeJS.Signals | null; stderr: string }

const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]);
const linkExists = (name: string) => spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;
const ifindex = (name: string) => Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
const bpfLinksOn = (index: number) => (JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifindex?: number }>)
  .filter((l) => l.ifindex === index).length;

/** Runs the demo; `stop` ends it once it counts; then checks that nothing of it is left. */
async function demo(t: Test, extra: string[], stop: (pid: number) => void): Promise<Stop> {
  // its own process group, as a shell gives a command: Ctrl-C signals the whole group
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', '--demo', '--no-api', '--format', 'ndjson', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const pid = child.pid!;
  const ns = `flowlens-demo-${pid}`, iface = `fl-demo-${pid}`.slice(0, 15), dir = path.join(os.tmpdir(), ns);
  // counting: an interval with the demo's traffic
  await waitFor(() => /"type":"interval"/.test(stdout) || child.exitCode !== null, 30_000);
  t.match(stdout, /"type":"interval"/, `the demo counts ${stderr}`);
  t.ok(netnsList().includes(ns) && linkExists(iface) && existsSync(path.join(dir, 'owner.json')) && existsSync(path.join(dir, 'flowlens.db')),
    'while it runs: its namespace, veth, marker and history');
  const index = ifindex(iface);
  t.ok(flowlensOn(iface).length > 0, 'flowlens is attached to the veth');
  stop(pid);
  const end = await exited;
  t.same([end.code, end.signal], [0, null], `exit 0 ${stderr}`);
  t.notMatch(stderr, /unexpected error|Error:|^\s+at /m, 'no error');
  t.notOk(netnsList().includes(ns), 'the namespace is gone');
  t.notOk(linkExists(iface), 'the veth is gone');
  t.notOk(existsSync(dir), 'the directory is gone');
  t.equal(bpfLinksOn(index), 0, 'no BPF link left on its interface index');
  return { ...end, stderr };
}

t.test('Ctrl-C (SIGINT to the process group), SIGTERM, --duration: exit 0, nothing left', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  await t.test('Ctrl-C', (t) => demo(t, [], (pid) => process.kill(-pid, 'SIGINT')));
  await t.test('SIGTERM', (t) => demo(t, [], (pid) => process.kill(pid, 'SIGTERM')));
  await t.test('--duration', (t) => demo(t, ['--duration', '3s'], () => undefined));
});

t.test('an error while starting (the HTTP port is taken): its message, exit 1, nothing left', async (t) => {
  if (!requireKernel(t)) return;
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', '--demo', '--format', 'none', '--http-port', String(port), '--grpc-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const ns = `flowlens-demo-${child.pid}`;
  t.equal(code, 1, 'an error is an error');
  t.match(stderr, /^flowlens: cannot serve HTTP on 127\.0\.0\.1:\d+: the port is in use$/m);
  t.notMatch(stderr, /unexpected error/);
  t.notOk(netnsList().includes(ns) || linkExists(`fl-demo-${child.pid}`.slice(0, 15)) || existsSync(path.join(os.tmpdir(), ns)), 'no namespace, veth or directory left');
});

t.test('the sweep removes abandoned demos of this host\'s flowlens only', async (t) => {
  if (!requireKernel(t)) return;
  // a pid that is surely gone: a child that has exited
  const dead = spawnSync('true').pid!;
  const me = { pidNamespace: readlinkSync('/proc/self/ns/pid'), bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() };
  const make = (tag: string, owner: Record<string, unknown> | null) => {
    const ns = `flowlens-demo-${tag}`;
    const dir = path.join(os.tmpdir(), ns);
    execFileSync('ip', ['netns', 'add', ns]);
    mkdirSync(dir);
    if (owner) writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ pid: dead, started: '1', netns: ns, iface: `fl-x-${tag}`.slice(0, 15), ...owner }));
    t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]); rmSync(dir, { recursive: true, force: true }); });
    return { ns, dir };
  };
  const abandoned = make(`${dead}a`, me);
  const foreign = make(`${dead}f`, { ...me, pidNamespace: 'pid:[1]' });
  const unmarked = make(`${dead}u`, null);
  await demo(t, ['--duration', '4s'], () => undefined);
  t.notOk(netnsList().includes(abandoned.ns) || existsSync(abandoned.dir), 'an abandoned demo of this PID namespace: removed');
  t.ok(netnsList().includes(foreign.ns) && existsSync(foreign.dir), 'another PID namespace\'s demo: left alone');
  t.ok(netnsList().includes(unmarked.ns) && existsSync(unmarked.dir), 'a demo without a marker: left alone');
});
