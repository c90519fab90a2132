/**
 * The far end of the demo, run inside the demo's network namespace: a TCP sink
 * (bulk uploads), a tiny HTTP-like responder (many short flows) and a UDP echo,
 * on IPv4 and IPv6. It exits when its parent closes stdin.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SINK_PORT = 5201;
export const HTTP_PORT = 8080;
export const UDP_PORT = 5353;

function main(): void {
  net.createServer((s) => { s.on('data', () => undefined); s.on('error', () => undefined); })
    .listen({ port: SINK_PORT, host: '::', ipv6Only: false });
  net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(`HTTP/1.0 200 OK\r\ncontent-length: 512\r\n\r\n${'x'.repeat(512)}`));
  }).listen({ port: HTTP_PORT, host: '::', ipv6Only: false });
  const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.bind(UDP_PORT, '::');
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
  process.stdout.write('ready\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
