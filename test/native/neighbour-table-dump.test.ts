/**
 * neighbours() dumps the kernel's neighbour table over rtnetlink: entries the
 * test adds on a veth (IPv4 and IPv6, permanent and stale) come back with
 * their ifindex, address bytes, MAC and NUD state; an unresolved entry has no
 * MAC; kernelNeighbours() keeps what devices are made of, formatted.
 */
import t from 'tap';
import { requireKernel } from '../helpers/kernel.js';
import { ip, vethPair } from '../helpers/veth.js';
import { loadAddon } from '../../src/native/binding.js';
import { kernelNeighbours } from '../../src/enrich/devices.js';
import { ip4, ip6 } from '../helpers/packets.js';

t.test('entries added on a veth come back exactly; kernelNeighbours keeps the resolved ones of that interface', async (t) => {
  if (!requireKernel(t)) return;
  const pair = vethPair(t, 'nb', { addresses: true });
  ip('neigh', 'add', '10.233.0.20', 'lladdr', '00:1b:63:84:45:e6', 'dev', pair.host, 'nud', 'permanent');
  ip('neigh', 'add', 'fd00::20', 'lladdr', '00:1b:63:84:45:e6', 'dev', pair.host, 'nud', 'stale');
  ip('neigh', 'add', '10.233.0.21', 'dev', pair.host, 'nud', 'incomplete');
  const mine = loadAddon().neighbours().neighbours.filter((n) => n.ifindex === pair.ifindex);
  const v4 = mine.find((n) => n.addr.equals(ip4('10.233.0.20')));
  t.match(v4, { ipVersion: 4, state: 0x80 }, 'IPv4, NUD_PERMANENT');
  t.ok(v4?.mac.equals(Buffer.from('001b638445e6', 'hex')), 'its MAC');
  const v6 = mine.find((n) => n.addr.equals(ip6('fd00::20')));
  t.match(v6, { ipVersion: 6, state: 0x04 }, 'IPv6, NUD_STALE');
  t.equal(mine.find((n) => n.addr.equals(ip4('10.233.0.21')))?.mac.length, 0, 'an incomplete entry has no MAC');
  const devices = kernelNeighbours([pair.host]).sort((a, b) => (a.address < b.address ? -1 : 1));
  t.same(devices, [
    { iface: pair.host, address: '10.233.0.20', mac: '00:1b:63:84:45:e6' },
    { iface: pair.host, address: 'fd00::20', mac: '00:1b:63:84:45:e6' },
  ], 'resolved entries only, of the interface asked for');
  t.same(kernelNeighbours(['no-such-iface0']), [], 'an interface that does not exist has none');
});
