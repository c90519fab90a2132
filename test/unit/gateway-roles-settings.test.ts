/**
 * Gateway roles in the settings: the flag form (--iface eth0:wan,br0:lan), the
 * file form (interfaces: [{name: eth0, role: wan}, br0]) and the environment
 * give the collector the same names and roles; wrong roles, unknown fields and
 * a wan without a lan are refused with a message that names the entry; and the
 * start-line warning for a forwarding host without roles says which roles to set.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFrom, dumpConfig } from '../../src/config/index.js';
import { validateConfig, defaultConfig } from '../../src/collector/config.js';
import { forwardingWithoutRolesWarning } from '../../src/system/forwarding.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-roles-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function yaml(text: string): string {
  const file = path.join(tmp, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** An empty settings file: only the defaults, the environment given and the flags. */
const NO_FILE = yaml('');

t.test('the flag, the file and the environment give the same names and roles', async (t) => {
  const want = { interfaces: ['eth0', 'br0', 'eth2'], roles: { eth0: 'wan', br0: 'lan' } };
  const flag = configFrom({ file: undefined, env: { FLOWLENS_CONFIG: NO_FILE }, flags: { iface: 'eth0:wan,br0:lan,eth2' } });
  t.match(flag.collector, want, '--iface eth0:wan,br0:lan,eth2');
  t.same(flag.collector.roles, want.roles, 'only the interfaces with a role have one');
  const file = configFrom({ file: yaml('interfaces:\n  - {name: eth0, role: wan}\n  - name: br0\n    role: lan\n  - eth2\n'), env: {} });
  t.same({ interfaces: file.collector.interfaces, roles: file.collector.roles }, want, 'the settings file');
  const env = configFrom({ env: { FLOWLENS_CONFIG: NO_FILE, FLOWLENS_INTERFACES: 'eth0:wan, br0:lan, eth2' } });
  t.same({ interfaces: env.collector.interfaces, roles: env.collector.roles }, want, 'FLOWLENS_INTERFACES');
  const none = configFrom({ env: { FLOWLENS_CONFIG: NO_FILE }, flags: { iface: 'eth0,eth1:none' } });
  t.same(none.collector.interfaces, ['eth0', 'eth1']);
  t.equal(none.collector.roles, undefined, 'no role (or "none"): roles stay off');
  t.match(dumpConfig(file.loaded), /interfaces:\n {2}- name: eth0\n {4}role: wan\n {2}- name: br0\n {4}role: lan\n {2}- eth2\n/, 'config --dump shows the roles');
});

t.test('wrong entries are refused, naming the entry and what is allowed', async (t) => {
  const bad: [string | undefined, Record<string, string> | undefined, RegExp][] = [
    [undefined, { iface: 'eth0:dmz' }, /--iface\[0\]: the role of eth0 must be wan or lan \(or none\), not "dmz"/],
    [undefined, { iface: 'eth0,:lan' }, /--iface\[1\] must be an interface name, optionally with a role/],
    ['interfaces: [{name: eth0, role: wan, mtu: 1500}]\n', undefined, /interfaces\[0\] has an unknown field "mtu"/],
    ['interfaces: [{role: wan}]\n', undefined, /interfaces\[0\] must be an interface name/],
    ['interfaces: [{name: eth0, role: WAN}]\n', undefined, /the role of eth0 must be wan or lan \(or none\), not "WAN"/],
    ['interfaces: [7]\n', undefined, /interfaces\[0\] must be an interface name/],
  ];
  for (const [file, flags, message] of bad) {
    t.throws(() => configFrom({ file: file ? yaml(file) : NO_FILE, env: {}, flags }), { code: 'FLOW_ERR_USAGE', message }, String(message));
  }
});

t.test('a wan interface needs a lan interface, and roles only name counted interfaces', async (t) => {
  const base = { ...defaultConfig(), interfaces: ['eth0', 'eth1'] };
  t.throws(() => validateConfig({ ...base, roles: { eth0: 'wan' } }), {
    code: 'FLOW_ERR_USAGE',
    message: /eth0 has the role wan, but no interface has the role lan/,
    hint: /forwarded traffic is counted on the LAN side.*--iface wan0:wan,lan0:lan/,
  });
  t.throws(() => validateConfig({ ...base, roles: { eth9: 'lan' } }), { message: /eth9 has a role but is not among the interfaces counted on/ });
  const many = Array.from({ length: 17 }, (_, i) => `lan${i}`);
  t.throws(() => validateConfig({ ...base, interfaces: many, roles: Object.fromEntries(many.map((n) => [n, 'lan' as const])) }),
    { message: /at most 16 interfaces can have a role, not 17/ });
  t.ok(validateConfig({ ...base, roles: { eth0: 'wan', eth1: 'lan' } }), 'wan + lan');
  t.ok(validateConfig({ ...base, roles: { eth0: 'lan', eth1: 'lan' } }), 'two lans (a bridge of two ports, say)');
});

t.test('the warning for a forwarding host without roles', async (t) => {
  t.equal(forwardingWithoutRolesWarning(['eth0', 'br0'], undefined, false, 'eth0'), undefined, 'not forwarding: no warning');
  t.equal(forwardingWithoutRolesWarning(['eth0'], undefined, true, 'eth0'), undefined, 'one interface: no warning');
  t.equal(forwardingWithoutRolesWarning(['eth0', 'br0'], { eth0: 'wan', br0: 'lan' }, true, 'eth0'), undefined, 'roles set: no warning');
  t.match(forwardingWithoutRolesWarning(['br0', 'eth0', 'br1'], undefined, true, 'eth0'),
    /br0, eth0, br1 have no roles: a packet forwarded between them is counted on each of them.*--iface br0:lan,eth0:wan,br1:lan/,
    'wan goes to the default route\'s interface');
  t.match(forwardingWithoutRolesWarning(['a0', 'b0'], undefined, true, undefined), /--iface a0:wan,b0:lan/, 'no default route: the first one');
});
