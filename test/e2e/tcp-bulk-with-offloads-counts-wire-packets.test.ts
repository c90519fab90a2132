/**
 * TCP bulk transfer (iperf3) between two namespaces with GSO/TSO and GRO on,
 * flowlens (the CLI) counting on one veth end, with the XDP and the TC ingress
 * hook, data flowing out of (TC egress) and into (XDP / TC ingress) that end.
 *
 * What must hold:
 *  - packets are wire packets: flowlens's packet counts equal what the TCP/IP
 *    stack of the namespace says it put on or took off the wire (segments,
 *    counted by the stack per segment, not per GSO/GRO super-packet), and the
 *    data flow's bytes per packet are MTU-sized;
 *  - bytes are the interface's own counters turned into L3 wire bytes, exactly
 *    (see linkWireL3 for how, and why that is exact);
 *  - the data flow accounts for all of it but iperf3's control connection,
 *    whose size is the only tolerance and is itself measured.
 */
import t from 'tap';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, collect, type End, type Lab, type LinkStats } from '../helpers/netns.js';
import { type Dir, type TalliedFlow } from '../helpers/tally.js';
import { CliRun, cliBuilt } from '../helpers/flowlens-cli.js';
const MTU = 1500;
/** IPv4 header + TCP header with the timestamp option (Linux's default, set explicitly below). */
const TCP_HDRS = 20 + 32;
const ETH_HLEN = 14;

/** Counters of one namespace's IP/TCP stack (/proc/net/snmp and /proc/net/netstat). */
function stackCounters(lab: Lab, e: End): Record<string, number> {
  const out: Record<string, number> = {};
  for (const file of ['/proc/net/snmp', '/proc/net/netstat']) {
    const lines = lab.exec(e, 'cat', [file]).trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/);
      for (let j = 1; j < names.length; j++) out[`${names[0]}${names[j]}`] = Number(values[j]);
    }
  }
  return out;
}

function delta(a: Record<string, number>, b: Record<string, number>, ...keys: string[]): number {
  return keys.reduce((n, k) => {
    if (!(k in a)) throw new Error(`no stack counter ${k}`);
    return n + b[k] - a[k];
  }, 0);
}

for (const hook of ['xdp', 'tc'] as const) {
  for (const reverse of [false, true]) {
    const dataDir: Dir = reverse ? 'ingress' : 'egress';
    t.test(`iperf3 TCP bulk, offloads on, ${hook} hook, data ${reverse ? 'into' : 'out of'} the monitored end`, async (t) => {
      if (!requireKernel(t)) return;
      t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
      const lab = createLab(t, { tag: 'tb', layout: 'namespaces', addresses: true,
        features: { tso: 'on', gso: 'on', gro: 'on' } });
      const { a, b } = lab;
      for (const e of [a, b]) lab.exec(e, 'sysctl', ['-qw', 'net.ipv4.tcp_timestamps=1']);
      for (const e of [a, b]) {
        const f = lab.features(e);
        t.ok(f['tcp-segmentation-offload'] && f['generic-segmentation-offload'] && f['generic-receive-offload'],
          `${e.name}: TSO, GSO and GRO are on`);
      }

      const server = lab.spawn(b, 'iperf3', ['-s', '-1', '-B', b.v4!]);
      const serverDone = collect(server, 30_000, 'iperf3 server');
      t.ok(await waitFor(() => lab.exec(b, 'ss', ['-Hltn', 'sport = :5201']).includes('5201'), 5000),
        'iperf3 server listens');

      const fl = CliRun.start(lab, a, ['--interval', '1s', '--hook', hook]);
      const wantProgs = hook === 'xdp' ? ['flowlens_tc_eg', 'flowlens_xdp'] : ['flowlens_tc_eg', 'flowlens_tc_in'];
      t.ok(await waitFor(() => lab.attached(a).map((p) => p.name).sort().join() === wantProgs.join(), 30_000),
        `flowlens attached (${wantProgs.join(', ')})`);
      if (hook === 'xdp') {
        // veth_xdp_set(): an XDP program without frags support on one end takes GSO away from the other
        t.notOk(lab.features(b)['tcp-segmentation-offload'], `the kernel turned TSO off on ${b.name} for XDP on its peer`);
      }

      const link0 = lab.stats(a);
      const stack0 = stackCounters(lab, a);
      const stackB0 = stackCounters(lab, b);
      const client = await lab.run(a, 'iperf3', ['-c', b.v4!, '-B', a.v4!, '-t', '2', '-J', ...(reverse ? ['-R'] : [])], 30_000);
      t.equal(client.code, 0, 'iperf3 client succeeded');
      const server_ = await serverDone;
      t.equal(server_.code, 0, 'iperf3 server finished');
      const link1 = lab.stats(a);
      const stack1 = stackCounters(lab, a);
      const stackB1 = stackCounters(lab, b);
      const exit = await fl.stop('SIGTERM');
      t.same(exit, { code: 0, signal: null }, `flowlens exited 0 ${fl.stderr}`);
      const { tally } = fl;
      const iperf = JSON.parse(client.stdout);
      t.ok(iperf.end.sum_received.bytes > 50e6, `iperf3 moved ${(iperf.end.sum_received.bytes / 1e6).toFixed(0)} MB`);

      const d = (s0: LinkStats, s1: LinkStats, side: 'rx' | 'tx') => ({
        bytes: s1[side].bytes - s0[side].bytes, packets: s1[side].packets - s0[side].packets,
      });
      /**
       * L3 wire bytes from the interface's own counters. A veth counts per skb, and
       * with offloads on an skb is a GSO/GRO super-packet of gso_segs wire packets:
       * its counters hold one Ethernet header per skb and one copy of the IP+TCP
       * headers per skb, where the wire has one per segment. So
       *   wire L3 = counted bytes − Ethernet headers counted + (wire packets − skbs) × (IP+TCP header)
       * and this is exact when every multi-segment skb carries 52 bytes of IP+TCP
       * headers: true here, since only the bulk sender's data segments are
       * aggregated, each with IPv4 (20) + TCP with timestamps (32).
       * Ethernet headers counted: veth counts skb->len in veth_xmit (14 bytes of
       * Ethernet per skb) except on its NAPI receive path (used when an XDP program
       * is attached), where veth_xdp_rcv counts skb->len after __dev_forward_skb
       * pulled the Ethernet header: there rx bytes are already L3 bytes.
       */
      const linkWireL3 = (side: 'rx' | 'tx', wirePackets: number) => {
        const c = d(link0, link1, side);
        const eth = side === 'rx' && hook === 'xdp' ? 0 : ETH_HLEN;
        return { ...c, l3: c.bytes - eth * c.packets + TCP_HDRS * (wirePackets - c.packets) };
      };

      // wire packets according to the namespace's own stack (it has no other interface in use)
      const stackWire = {
        // TCP counts every segment it transmits, per segment (tcp_skb_pcount), in OutSegs or RetransSegs
        egress: delta(stack0, stack1, 'Tcp:OutSegs', 'Tcp:RetransSegs'),
        // IP counts received wire packets per segment (gso_segs) in its ECN counters
        ingress: delta(stack0, stack1, 'IpExt:InNoECTPkts', 'IpExt:InECT1Pkts', 'IpExt:InECT0Pkts', 'IpExt:InCEPkts'),
      };

      for (const dir of ['egress', 'ingress'] as const) {
        const tot = tally.totals(a.name, dir);
        // no other packets than the flows: static neighbours (no ARP), IPv6 off (no NDP/MLD)
        t.same({ nonIp: tot.nonIpPackets, malformed: tot.malformedPackets, overflow: tot.overflowPackets },
          { nonIp: 0, malformed: 0, overflow: 0 }, `${dir}: every packet is in a flow`);
        t.equal(tot.packets, stackWire[dir], `${dir}: flowlens packets = wire packets the TCP/IP stack counted (${stackWire[dir]})`);
        const side = dir === 'egress' ? 'tx' : 'rx';
        const l = linkWireL3(side, tot.packets);
        t.equal(tot.bytes, l.l3, `${dir}: flowlens bytes = interface ${side} bytes as L3 wire bytes, exactly`,
          { link: l, flowlens: { packets: tot.packets, bytes: tot.bytes } });
        if (dir === dataDir) {
          const gsoOnWay = !(hook === 'xdp' && dir === 'ingress');
          if (gsoOnWay) {
            t.ok(l.packets * 2 < tot.packets, `${dir}: the hook saw GSO/GRO super-packets (${l.packets} skbs for ${tot.packets} wire packets), counted as their segments`);
          } else {
            // the sender lost TSO (see above) and GRO runs after XDP: XDP sees each wire frame
            t.equal(l.packets, tot.packets, `${dir}: XDP saw every wire frame once`);
          }
        }
      }

      // the data flow: the biggest flow in the data direction; everything else is iperf3's control connection
      const flows = (dir: Dir) => tally.list(a.name, dir).sort((x, y) => y.bytes - x.bytes);
      const data = flows(dataDir)[0];
      const acks = flows(dataDir === 'egress' ? 'ingress' : 'egress')[0];
      const other = (dir: Dir, main: TalliedFlow) => flows(dir).filter((f) => f !== main);
      const [sender, receiver] = reverse ? [b, a] : [a, b];
      t.match(data, { protocol: 6, src: sender.v4, dst: receiver.v4, dstPort: reverse ? data.dstPort : 5201 }, 'data flow found');
      t.match(acks, { protocol: 6, src: receiver.v4, dst: sender.v4, srcPort: data.dstPort, dstPort: data.srcPort }, 'its ACK flow found');
      const ctlData = other(dataDir, data);
      const ctlAcks = other(dataDir === 'egress' ? 'ingress' : 'egress', acks);
      t.equal(ctlData.length, 1, 'one other flow in the data direction (control connection)');
      t.equal(ctlAcks.length, 1, 'one other flow in the ACK direction (control connection)');
      for (const c of [...ctlData, ...ctlAcks]) {
        t.ok(c.packets < 100 && c.bytes < 16_384, `control connection flow is small: ${c.packets} packets, ${c.bytes} bytes`);
        t.equal(c.dstPort === 5201 || c.srcPort === 5201, true, 'control connection is on port 5201');
      }

      // the computed tolerance between the data flow and the interface: exactly the control connection
      const dataTot = tally.totals(a.name, dataDir);
      const tolerance = ctlData.reduce((n, f) => n + f.bytes, 0);
      const sideOfData = dataDir === 'egress' ? 'tx' : 'rx';
      const linkL3 = linkWireL3(sideOfData, dataTot.packets).l3;
      t.ok(Math.abs(linkL3 - data.bytes) <= tolerance,
        `data flow bytes ${data.bytes} within ${tolerance} bytes (the control connection) of the interface's ${linkL3}`);
      t.ok(tolerance / data.bytes < 1e-4, `that tolerance is ${(tolerance / data.bytes * 100).toFixed(5)}% of the data`);

      // wire packets, not super-packets
      const perPacket = data.bytes / data.packets;
      t.ok(perPacket > MTU - 100 && perPacket <= MTU, `data flow: ${perPacket.toFixed(1)} bytes per packet (MTU ${MTU})`);
      // payload on the wire vs what iperf3 moved: at least what the receiver read, at most what the
      // sender wrote (iperf3 ends the test with data still in the socket buffer, which is never sent)
      // plus the retransmitted segments (the sender's stack counts them, each holds at most one MSS)
      // plus iperf3's own bytes on the data connection, which it does not report (its 37-byte
      // cookie and a little more: 53 bytes measured with iperf3 3.12; 1 KiB allowed). The estimate
      // takes 52 header bytes off every packet, 8 too many for the SYN's 60.
      const payload = data.bytes - TCP_HDRS * data.packets;
      const { sum_sent: sent, sum_received: received } = iperf.end;
      const retrans = reverse ? delta(stackB0, stackB1, 'Tcp:RetransSegs') : delta(stack0, stack1, 'Tcp:RetransSegs');
      t.ok(payload >= received.bytes - 8 && payload <= sent.bytes + 1024 + retrans * (MTU - TCP_HDRS),
        `data flow payload ${payload} between iperf3's ${received.bytes} bytes received and ${sent.bytes} sent (${retrans} retransmitted segments)`);
      t.equal(tally.list(a.name, 'egress').length + tally.list(a.name, 'ingress').length, 4, 'no flows besides the two connections');
    });
  }
}
