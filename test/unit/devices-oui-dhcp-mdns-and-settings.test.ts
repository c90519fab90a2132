/**
 * Devices without a kernel: the IEEE registry parser (quoted CSV fields, the
 * longest block wins, locally administered MACs have no vendor), Debian's
 * ieee-data files themselves, the DHCP request parser (host name, FQDN,
 * requested address, cut and hostile input), and the device table: addresses
 * grouped by MAC, a lease moving to another device, mDNS names waiting for
 * their MAC, the settings' names winning, and what the history keeps.
 */
import t from 'tap';
import { csvFields, macKind, normalizeMac, OuiRegistry } from '../../src/enrich/oui.js';
import { parseDhcpRequest } from '../../src/enrich/dhcp.js';
import { DeviceTable, DevicesComponent, type StoredDevice } from '../../src/enrich/devices.js';
import { parseDeviceSettings } from '../../src/config/index.js';
import type { Capture } from '../../src/collector/captures.js';
import { dhcpMessage, labels, mdnsAnnouncement, TYPE } from '../helpers/dns-messages.js';
import { garbage, ip4 } from '../helpers/packets.js';

const T0 = 1_700_000_000_000;
const APPLE = '00:1b:63:84:45:e6';
const RANDOM = 'da:a1:19:12:34:56';

const REGISTRY = `Registry,Assignment,Organization Name,Organization Address
MA-L,001B63,"Apple, Inc.",1 Infinite Loop Cupertino CA US 95014 
MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554 
MA-S,70B3D5F2F,TELEPLATFORMS,"Polbina st., 3/1 Moscow  RU 109388 "
MA-M,741AE09,Private,
MA-L,nothex,Broken Row,
`;

function registry(): OuiRegistry {
  const r = new OuiRegistry();
  r.addCsv(REGISTRY);
  return r;
}

function capture(kind: Capture['kind'], payload: Buffer, o: Partial<Capture> = {}): Capture {
  return { kind, ifindex: 3, direction: 'ingress', ipVersion: 4, protocol: 17, src: '0.0.0.0', dst: '255.255.255.255',
    srcPort: kind === 'dhcp' ? 68 : 5353, dstPort: kind === 'dhcp' ? 67 : 5353, time: T0, payload, payloadLength: payload.length, ...o };
}

const hostName = (n: string) => [12, Buffer.from(n)] as [number, Buffer];
const requested = (a: string) => [50, ip4(a)] as [number, Buffer];

t.test('CSV fields: quotes, commas and doubled quotes inside them, empty fields', async (t) => {
  t.same(csvFields('MA-L,001B63,"Apple, Inc.",1 Infinite Loop'), ['MA-L', '001B63', 'Apple, Inc.', '1 Infinite Loop']);
  t.same(csvFields('a,"say ""hi""",'), ['a', 'say "hi"', '']);
  t.same(csvFields('MA-M,741AE09,Private,'), ['MA-M', '741AE09', 'Private', '']);
  t.same(csvFields('x,"Polbina st., 3/1 Moscow  RU 109388 "'), ['x', 'Polbina st., 3/1 Moscow  RU 109388 ']);
});

t.test('the registry: MA-L, MA-M, MA-S blocks, the longest wins; local and group MACs have no vendor', async (t) => {
  const r = registry();
  t.equal(r.size, 4, 'four blocks (the row whose assignment is not hex is skipped)');
  t.equal(r.vendorOf(APPLE), 'Apple, Inc.');
  t.equal(r.vendorOf('00-1B-63-00-00-01'), 'Apple, Inc.', 'any case and separator');
  t.equal(r.vendorOf('70:b3:d5:f2:f0:01'), 'TELEPLATFORMS', 'a 36-bit block inside an MA-L');
  t.equal(r.vendorOf('70:b3:d5:00:00:01'), 'IEEE Registration Authority', 'outside the small block: the MA-L');
  t.equal(r.vendorOf('74:1a:e0:90:00:01'), 'Private');
  t.equal(r.vendorOf('00:00:01:00:00:01'), undefined, 'an unknown block');
  t.equal(macKind(APPLE), 'universal');
  t.equal(macKind(RANDOM), 'local', 'the 0x02 bit: locally administered (randomized)');
  t.equal(macKind('01:00:5e:00:00:fb'), 'multicast');
  t.equal(r.vendorOf('02:1b:63:84:45:e6'), undefined, 'Apple\'s block with the local bit set is nobody\'s');
  t.equal(normalizeMac('001b.6384.45E6'), APPLE);
  t.equal(normalizeMac('00:1b:63:84:45'), undefined, 'five bytes');
});

t.test("Debian's ieee-data: ~50k blocks, Apple and the Raspberry Pi Foundation where they belong", async (t) => {
  const r = OuiRegistry.load();
  t.same(r.problems, [], 'every registry file read (scripts/install-deps.sh installs ieee-data)');
  t.ok(r.size > 40_000, `${r.size} blocks`);
  t.equal(r.vendorOf(APPLE), 'Apple, Inc.');
  t.equal(r.vendorOf('b8:27:eb:00:00:01'), 'Raspberry Pi Foundation');
  const missing = OuiRegistry.load('/nonexistent');
  t.equal(missing.size, 0);
  t.match(missing.problems[0], /oui\.csv: ENOENT \(install Debian's ieee-data package/, 'a missing file says which package brings it');
});

t.test('DHCP: MAC, message type, host name, FQDN and the address asked for', async (t) => {
  const fqdn = Buffer.concat([Buffer.from([0x04, 0, 0]), labels('alice-laptop.home.arpa')]);
  t.same(parseDhcpRequest(dhcpMessage({ mac: APPLE, type: 3, options: [requested('192.168.1.20'), hostName('alice-laptop'), [81, fqdn]] })),
    { mac: APPLE, messageType: 'request', hostName: 'alice-laptop', fqdn: 'alice-laptop.home.arpa', address: '192.168.1.20' });
  t.same(parseDhcpRequest(dhcpMessage({ mac: APPLE, type: 1, options: [[81, Buffer.concat([Buffer.from([0, 0, 0]), Buffer.from('Old.Client.')])]] })),
    { mac: APPLE, messageType: 'discover', fqdn: 'old.client' }, 'option 81 in ASCII (no E flag)');
  t.same(parseDhcpRequest(dhcpMessage({ mac: APPLE, type: 8, ciaddr: '192.168.1.21', options: [requested('192.168.1.99')] })),
    { mac: APPLE, messageType: 'inform', address: '192.168.1.21' }, 'ciaddr wins over option 50');
  const cut = dhcpMessage({ mac: APPLE, type: 3, options: [hostName('phone'), requested('192.168.1.30')] });
  t.same(parseDhcpRequest(cut.subarray(0, cut.length - 4)), { mac: APPLE, messageType: 'request', hostName: 'phone' }, 'cut: the options before the cut');
  t.equal(parseDhcpRequest(dhcpMessage({ mac: APPLE, type: 3, options: [hostName('bad\nname')] }))?.hostName, undefined, 'control bytes: no name');
  const reply = dhcpMessage({ mac: APPLE, type: 5 });
  reply[0] = 2;
  t.equal(parseDhcpRequest(reply), undefined, 'a server reply (BOOTREPLY) is not a client message');
  t.equal(parseDhcpRequest(garbage(300)), undefined, 'garbage');
  t.equal(parseDhcpRequest(Buffer.alloc(100)), undefined, 'too short');
});

t.test('the device table: one device per MAC, its addresses, names from DHCP and mDNS, settings win', async (t) => {
  const devices = new DeviceTable({ oui: registry, settings: parseDeviceSettings([{ mac: '00:1B:63:00:00:02', name: 'printer' }, { address: '192.168.1.40', name: 'tv' }]) });
  devices.ingest(capture('dhcp', dhcpMessage({ mac: APPLE, type: 3, options: [requested('192.168.1.20'), hostName('alice-laptop')] })));
  t.match(devices.deviceOf('192.168.1.20'), { mac: APPLE, macKind: 'universal', vendor: 'Apple, Inc.', name: 'alice-laptop', nameSource: 'dhcp', addresses: ['192.168.1.20'] },
    'a DHCP request alone makes the device');
  devices.ingest(capture('dhcp', dhcpMessage({ mac: RANDOM, type: 3, options: [hostName('x')] }), { direction: 'egress' }));
  t.equal(devices.list().length, 1, 'a DHCP message the host sends (egress) is its own, not a device\'s');
  const lanOnly = new DeviceTable({ oui: registry, deviceInterface: (i) => i === 4 });
  lanOnly.ingest(capture('dhcp', dhcpMessage({ mac: RANDOM, type: 3, options: [hostName('neighbour')] })));
  t.same(lanOnly.list(), [], 'a DHCP request on an interface whose hosts are not devices (a gateway\'s WAN) names nothing');

  devices.observe([
    { iface: 'br0', address: '192.168.1.20', mac: APPLE },
    { iface: 'br0', address: 'fd00::1:20', mac: APPLE },
    { iface: 'br0', address: '192.168.1.40', mac: RANDOM },
    { iface: 'br0', address: '192.168.1.50', mac: '00:1b:63:00:00:02' },
  ], T0 + 1000);
  t.same(devices.deviceOf('fd00::1:20')?.addresses.sort(), ['192.168.1.20', 'fd00::1:20'], 'IPv4 and IPv6 of one MAC are one device');
  t.match(devices.deviceOf('192.168.1.40'), { mac: RANDOM, macKind: 'local', name: 'tv', nameSource: 'settings' }, 'named by address in the settings');
  t.equal(devices.deviceOf('192.168.1.40')!.vendor, undefined, 'a locally administered MAC has no vendor');
  t.match(devices.deviceOf('192.168.1.50'), { name: 'printer', nameSource: 'settings' }, 'named by MAC in the settings');
  t.equal(devices.labelOf('192.168.1.20'), 'alice-laptop');

  // mDNS: a name for an address whose MAC comes with the next neighbour read
  devices.ingest(capture('mdns', mdnsAnnouncement([{ name: 'kitchen-speaker.local', type: TYPE.A, ttl: 120, data: '192.168.1.60' }]), { src: '192.168.1.60', dst: '224.0.0.251' }));
  t.equal(devices.deviceOf('192.168.1.60'), undefined, 'no MAC known yet');
  devices.observe([{ iface: 'br0', address: '192.168.1.60', mac: '00:1b:63:00:00:60' }], T0 + 2000);
  t.match(devices.deviceOf('192.168.1.60'), { name: 'kitchen-speaker', nameSource: 'mdns', vendor: 'Apple, Inc.' });
  devices.ingest(capture('mdns', mdnsAnnouncement([{ name: 'Alices-MacBook.local', type: TYPE.A, ttl: 120, data: '192.168.1.20' }])));
  t.match(devices.deviceOf('192.168.1.20'), { name: 'alices-macbook', nameSource: 'mdns' }, 'the latest learned name');

  // a new lease: the address moves to another device
  devices.observe([{ iface: 'br0', address: '192.168.1.20', mac: RANDOM }], T0 + 3000);
  t.equal(devices.deviceOf('192.168.1.20')!.mac, RANDOM);
  t.same(devices.list().find((d) => d.mac === APPLE)!.addresses, ['fd00::1:20'], 'and leaves the device that had it');
  devices.ingest(capture('mdns', mdnsAnnouncement([{ name: 'evil\x1b[2J.local', type: TYPE.A, ttl: 120, data: '192.168.1.60' }])));
  t.equal(devices.deviceOf('192.168.1.60')!.name, 'kitchen-speaker', 'a name with control bytes names nothing');
  t.match(devices.stats(), { devices: 4, dhcpRequests: 1, mdnsAnswers: 2, parseFailures: 1 });
});

t.test('the history: changed devices out, restored after a restart with the settings of the new run', async (t) => {
  const first = new DeviceTable({ oui: registry });
  first.ingest(capture('dhcp', dhcpMessage({ mac: APPLE, type: 3, options: [requested('192.168.1.20'), hostName('alice-laptop')] })));
  first.observe([{ iface: 'br0', address: '192.168.1.21', mac: RANDOM }], T0 + 1000);
  const rows = first.takeChanged();
  t.same(rows.map((r) => r.mac).sort(), [APPLE, RANDOM].sort());
  t.same(first.takeChanged(), [], 'nothing changed since');
  first.requeue(rows);
  t.same(first.takeChanged().length, 2, 'rows that could not be stored come again');
  const again = new DeviceTable({ oui: registry, settings: [{ mac: RANDOM, name: "Bob's phone" }] });
  again.restore(JSON.parse(JSON.stringify(rows)));
  t.match(again.deviceOf('192.168.1.20'), { name: 'alice-laptop', nameSource: 'dhcp', firstSeen: T0 });
  t.match(again.deviceOf('192.168.1.21'), { name: "Bob's phone", nameSource: 'settings', iface: 'br0' });
});

t.test('the component: restores at start, stores changes every refresh, a failing store said once and its rows kept', async (t) => {
  const saved: StoredDevice[][] = [];
  let failing = false;
  const errors: string[] = [];
  const store = {
    loadDevices: (): StoredDevice[] => [{ mac: RANDOM, learnedName: 'phone', learnedFrom: 'mdns', addresses: { '192.168.1.21': T0 }, firstSeen: T0, lastSeen: T0 }],
    saveDevices: (rows: StoredDevice[]) => { if (failing) throw new Error('disk full'); saved.push(rows); },
  };
  let neighbours = [{ iface: 'br0', address: '192.168.1.20', mac: APPLE }];
  let now = T0 + 1000;
  const c = new DevicesComponent(new DeviceTable({ oui: registry }), { neighbours: () => neighbours, store: () => store, refreshMs: 3_600_000, clock: () => now, onError: (e) => errors.push((e as Error).message) });
  c.start();
  t.match(c.table.deviceOf('192.168.1.21'), { name: 'phone', nameSource: 'mdns' }, 'restored from the store');
  t.same(saved.map((rows) => rows.map((r) => r.mac)), [[APPLE]], 'the first refresh stores the new device only');
  failing = true;
  neighbours = [{ iface: 'br0', address: '192.168.1.30', mac: APPLE }];
  now += 1000; c.refresh();
  now += 1000; c.refresh();
  t.same(errors, ['disk full'], 'said once, not at every refresh');
  failing = false;
  now += 1000; c.refresh();
  t.same(saved.at(-1)!.map((r) => [r.mac, Object.keys(r.addresses).sort()]), [[APPLE, ['192.168.1.20', '192.168.1.30']]], 'the rows that failed are stored once the store works');
  c.stop();
});

t.test('the devices setting: each wrong entry named', async (t) => {
  t.same(parseDeviceSettings([{ mac: '00-1B-63-84-45-E6', name: 'laptop' }, { address: 'FD00::0:20', name: 7 }]),
    [{ name: 'laptop', mac: APPLE }, { name: '7', address: 'fd00::20' }]);
  t.throws(() => parseDeviceSettings([{ mac: 'zz', name: 'a' }, { name: 'b' }, { address: '10.0.0.1/24', name: 'c' }, { mac: APPLE, address: '10.0.0.1', name: 'd' }, 'e', { mac: APPLE, name: 'f', colour: 'red' }]), {
    message: /6 settings are wrong:\n {2}devices\[0\]\.mac "zz" is not a MAC address.*\n {2}devices\[1\] needs either mac or address.*\n {2}devices\[2\]\.address "10\.0\.0\.1\/24" is not an IP address.*\n {2}devices\[3\] needs either mac or address.*\n {2}devices\[4\] must be a mapping.*\n {2}devices\[5\] has an unknown field "colour"/,
  });
  t.throws(() => parseDeviceSettings([{ mac: APPLE }]), { message: 'devices[0].name is missing' });
});
