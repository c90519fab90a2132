/**
 * The far end of the demo, run inside the demo's network namespace, on IPv4
 * and IPv6 and on every address of the namespace (the LAN peer's and the
 * made-up "internet" ones alike): a TCP sink (bulk uploads), a tiny HTTP-like
 * responder (`GET /bytes/N` answers N bytes; many short flows), a UDP echo, a
 * TCP service on 443 that reads a TLS ClientHello and answers junk (the demo
 * only needs the hello's SNI on the wire), and a DNS responder on 53 that
 * answers A/AAAA questions for the demo's names (given as JSON in argv[2]:
 * {"name": ["addr", ...]}). It exits when its parent closes stdin.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SINK_PORT = 5201;
export const HTTP_PORT = 8080;
export const UDP_PORT = 5353;
export const TLS_PORT = 443;
export const DNS_PORT = 53;

/** Names → addresses the DNS responder answers. */
export type DemoNames = Record<string, string[]>;

const TYPE_A = 1, TYPE_AAAA = 28;

/** The question's name, type and the end of the question section, or undefined when malformed. */
function question(msg: Buffer): { name: string; type: number; end: number } | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length && msg[at] !== 0) {
    const len = msg[at]!;
    if (len > 63 || at + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('ascii', at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(at + 1), end: at + 5 };
}

/** A DNS answer to one question: the A or AAAA records of the name (TTL 300), or NXDOMAIN. */
export function dnsAnswer(query: Buffer, names: DemoNames): Buffer | undefined {
  const q = question(query);
  if (!q) return undefined;
  const known = names[q.name];
  const addrs = (known ?? []).filter((a) => (q.type === TYPE_A ? net.isIPv4(a) : q.type === TYPE_AAAA ? net.isIPv6(a) : false));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // response, recursion desired copied, recursion available; rcode 3 (NXDOMAIN) for unknown names
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addrs.length, 6);
  const records = addrs.map((a) => {
    const data = net.isIPv4(a) ? Buffer.from(a.split('.').map(Number)) : ipv6Bytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(data.length === 4 ? TYPE_A : TYPE_AAAA, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(300, 6);
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...records]);
}

function ipv6Bytes(addr: string): Buffer {
  const [head, tail = ''] = addr.split('::');
  const parts = (s: string) => (s ? s.split(':') : []);
  const h = parts(head!), t = parts(tail);
  const groups = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function main(names: DemoNames): void {
  const any = { host: '::', ipv6Only: false };
  net.createServer((s) => { s.on('data', () => undefined); s.on('error', () => undefined); }).listen({ port: SINK_PORT, ...any });
  net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (d) => {
      const size = Math.min(Number(/^GET \/bytes\/(\d+)/.exec(d.toString('latin1'))?.[1] ?? 512), 64 * 1024 * 1024);
      s.write(`HTTP/1.0 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      let left = size;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(chunk.subarray(0, n))) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
  }).listen({ port: HTTP_PORT, ...any });
  net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(Buffer.alloc(16 * 1024, 0x17)));
  }).listen({ port: TLS_PORT, ...any });
  // the echo answers from the address it was asked on: one socket per site address
  // (a socket on :: would answer the sites' datagrams from the LAN peer's address)
  const addrs = [...new Set(Object.values(names).flat())];
  for (const addr of ['::', ...addrs]) {
    const udp = net.isIPv4(addr) ? dgram.createSocket({ type: 'udp4', reuseAddr: true }) : dgram.createSocket({ type: 'udp6', ipv6Only: addr !== '::', reuseAddr: true });
    udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
    udp.bind(UDP_PORT, addr);
  }
  const dns = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  dns.on('message', (msg, rinfo) => {
    const answer = dnsAnswer(msg, names);
    if (answer) dns.send(answer, rinfo.port, rinfo.address);
  });
  dns.bind(DNS_PORT, '::', () => process.stdout.write('ready\n'));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main(JSON.parse(process.argv[2] ?? '{}') as DemoNames);
