/**
 * The live view's drawing without a terminal: every screen fits its width and
 * height (from 20×5 to 250×60), columns go by priority (REMOTE and RATE stay
 * longest), the keys sort and filter, and the plain text for pipes is still
 * the whole table.
 */
import t from 'tap';
import { drawScreen, INITIAL_VIEW, plainFrame, pressKey, type Frame, type ViewState } from '../../src/cli/live-view.js';
import type { LiveSession } from '../../src/flows/live.js';

function session(i: number, over: Partial<LiveSession>): LiveSession {
  return {
    id: String(i), iface: 'eth0', protocol: 6, local: '192.168.1.10', localPort: 40000 + i, remote: `198.51.100.${i}`, remotePort: 443,
    scope: 'internet', initiator: 'local', state: 'established', bytesUp: 1000, bytesDown: 1000, packetsUp: 10, packetsDown: 10,
    firstSeen: 0, lastSeen: 1000, tcpFlagsUp: 0, tcpFlagsDown: 0, labels: {}, toRecord: () => { throw new Error('unused'); },
    ...over,
  } as LiveSession;
}

// a: most bytes, b: most packets, c: the fastest now (LAN, UDP), d: IPv6 with a long domain
const sessions = [
  session(1, { bytesDown: 9_000_000, packetsDown: 6000 }),
  session(2, { bytesDown: 50_000, packetsDown: 30_000, protocol: 17, remotePort: 5300 }),
  session(3, { remote: '10.0.0.3', scope: 'lan', protocol: 17, remotePort: 53 }),
  session(4, { remote: '2001:db8:1234:5678::abcd', labels: { domain: 'a-rather-long-name.cdn.example.net', country: 'NL', asn: 64500 } }),
];
const latest = new Map([['1', 10], ['2', 20], ['3', 5000], ['4', 30]]);
const frame: Frame = {
  title: 'flowlens — 12:00:00  4 sessions, 4 remote addresses  9 flows  table 0.1% full  drain 0.3 ms',
  interfaces: ['eth0 [xdp-native/tcx]  up 1.00 Mbit/s (internet 1.00 Mbit/s)  down 2.00 Mbit/s (internet 2.00 Mbit/s)  non-IP 0  malformed 0  overflow 0'],
  sessions, latest: (x) => latest.get(x.id) ?? 0, start: 500, seconds: 1,
};
const order = (lines: string[]) => ['198.51.100.1', '198.51.100.2', '10.0.0.3', '2001:db8'].map((a) => lines.findIndex((l) => l.includes(a)));

t.test('every size fits; the header stays on top', async (t) => {
  for (const [w, h] of [[20, 5], [40, 10], [80, 24], [120, 30], [200, 50], [250, 60]] as const) {
    const lines = drawScreen(frame, INITIAL_VIEW, w, h);
    t.ok(lines.length <= h, `${w}×${h}: ${lines.length} lines`);
    t.same(lines.filter((l) => l.length > w), [], `${w}×${h}: no line wider`);
    t.ok(lines[0]!.startsWith('flowlens'), `${w}×${h}: the title first`);
  }
  const wide = drawScreen(frame, INITIAL_VIEW, 250, 60);
  t.ok(wide.some((l) => l.includes('a-rather-long-name.cdn.example.net')), 'wide: the whole domain');
  t.match(wide.find((l) => l.startsWith('IFACE'))!, /^IFACE +PROTO +LOCAL +REMOTE +WHERE +STATE +UP +DOWN +PKTS +RATE$/, 'wide: every column');
  const narrow = drawScreen(frame, INITIAL_VIEW, 60, 24);
  const head = narrow.find((l) => /REMOTE/.test(l))!;
  t.match(head, /PROTO/, 'narrow: the protocol stays');
  t.match(head, /RATE/, 'narrow: the rate stays');
  t.notMatch(head, /IFACE|PKTS/, 'narrow: the least important columns go first');
  t.ok(narrow.some((l) => l.includes('…')), 'narrow: long addresses are cut, marked …');
  t.equal(drawScreen(frame, INITIAL_VIEW, 80, 24).at(-1), 'keys: r rate  b bytes  p packets  i internet/LAN  t protocol  / address  c clear  q quit'.slice(0, 79) + '…', 'the keys on the last line');
  t.equal(drawScreen({ ...frame, sessions: [...Array(100)].map((_, i) => session(i + 10, {})) }, INITIAL_VIEW, 80, 24).length, 24, 'many sessions: exactly the height');
});

t.test('the dashboard after the keys when it fits; firing alerts above them', async (t) => {
  const url = 'http://127.0.0.1:9477/';
  t.equal(drawScreen({ ...frame, dashboard: url }, INITIAL_VIEW, 120, 30).at(-1), `keys: r rate  b bytes  p packets  i internet/LAN  t protocol  / address  c clear  q quit  ${url}`, '120 wide: keys and the dashboard');
  t.notMatch(drawScreen({ ...frame, dashboard: url }, INITIAL_VIEW, 80, 24).at(-1)!, /http/, '80 wide: the keys only');
  const alerts = ['ALERT [critical] port-scan: 10.0.0.9 scanned 1000 ports of 10.0.0.3', 'ALERT [warning] download: 90 Mbit/s', 'ALERT [info] quota: 80 %'];
  for (const [w, h] of [[80, 24], [120, 30], [40, 8]] as const) {
    const lines = drawScreen({ ...frame, alerts }, INITIAL_VIEW, w, h);
    t.equal(lines.length, h, `${w}×${h}: exactly the height`);
    t.same(lines.filter((l) => l.length > w), [], `${w}×${h}: no line wider`);
    t.ok(lines.at(-1)!.startsWith('keys:'), `${w}×${h}: the keys stay last`);
    t.ok(lines.at(-3)!.startsWith('ALERT [critical]'), `${w}×${h}: the first alert above`);
    t.match(lines.at(-2)!, /^2 more alerts firing/, `${w}×${h}: one alert, the rest counted`);
  }
  const one = drawScreen({ ...frame, alerts: alerts.slice(0, 1) }, INITIAL_VIEW, 120, 30);
  t.equal(one.filter((l) => l.startsWith('ALERT')).length, 1, 'one alert: one line');
  t.ok(one.some((l) => l.includes('2001:db8')), 'the table keeps its rows');
});

t.test('sort keys', async (t) => {
  let v: ViewState = INITIAL_VIEW;
  const by = (key: string) => { v = pressKey(v, key) as ViewState; return order(drawScreen(frame, v, 200, 50)); };
  const rate = order(drawScreen(frame, v, 200, 50));
  t.ok(rate[2]! < rate[3]! && rate[3]! < rate[1]! && rate[1]! < rate[0]!, 'rate (default): the LAN peer first, then by latest bytes');
  const bytes = by('b');
  t.ok(bytes[0]! < bytes[1]!, 'b: the 9 MB session first');
  const packets = by('p');
  t.ok(packets[1]! < packets[0]!, 'p: the 30,000-packet session first');
  t.ok(drawScreen(frame, v, 200, 50).some((l) => l.startsWith('sort: packets')), 'the sort shown');
});

t.test('filter keys', async (t) => {
  const shown = (v: ViewState) => order(drawScreen(frame, v, 200, 50)).map((i) => i >= 0);
  const after = (...keys: string[]) => keys.reduce((v, k) => pressKey(v, k) as ViewState, INITIAL_VIEW);
  t.same(shown(after('i')), [true, true, false, true], 'i: internet only');
  t.same(shown(after('i', 'i')), [false, false, true, false], 'i i: LAN only');
  t.same(shown(after('i', 'i', 'i')), [true, true, true, true], 'i i i: all again');
  t.same(shown(after('t')), [true, false, false, true], 't: TCP');
  t.same(shown(after('t', 't')), [false, true, true, false], 't t: UDP');
  t.same(shown(after('/', ...'cdn.example', '\r')), [false, false, false, true], '/ and a name: matches the domain');
  t.same(shown(after('/', ...'10.0.', '\r')), [false, false, true, false], '/ and an address');
  t.same(shown(after('/', ...'10.0.', '\x1b')), [true, true, true, true], 'Esc cancels the typing');
  t.same(shown(after('/', ...'10.0.', '\r', 'c')), [true, true, true, true], 'c clears the filters');
  t.match(drawScreen(frame, after('/', ...'10.'), 80, 24).join('\n'), /address \(Enter to apply, Esc to cancel\): 10\._/, 'what is typed is shown');
  t.equal(pressKey(INITIAL_VIEW, 'q'), 'quit', 'q quits');
  t.equal(pressKey(INITIAL_VIEW, '\x03'), 'quit', 'Ctrl-C quits');
  t.equal(pressKey(after('/'), '\x03'), 'quit', 'Ctrl-C quits while typing');
  t.same(pressKey(after('/'), 'q'), { ...INITIAL_VIEW, typing: 'q' }, 'q while typing is a letter');
});

t.test('plain text (stdout not a terminal): the whole table, every session', async (t) => {
  const text = plainFrame(frame, 20);
  const lines = text.split('\n');
  t.equal(lines[0], frame.title);
  t.equal(lines[1], frame.interfaces[0]);
  t.match(lines[3]!, /^IFACE +PROTO +LOCAL +REMOTE +WHERE +STATE +UP +DOWN +RATE$/, 'the columns of before');
  t.equal(lines.filter((l) => l.startsWith('eth0  ')).length, 4, 'every session');
  t.ok(text.includes('[2001:db8:1234:5678::abcd]:443 (a-rather-long-name.cdn.example.net)'), 'nothing cut');
  t.match(text, /10\.0\.0\.3:53 +LAN/, 'LAN rows say LAN');
  t.equal(lines.at(-1), 'Ctrl-C to stop');
});
