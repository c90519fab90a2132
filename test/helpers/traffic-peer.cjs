// Traffic with known sizes for end-to-end tests, run inside a test namespace:
//   udp-server PORT REPLY_SIZE [ADDR]  answers every datagram with one of REPLY_SIZE bytes (bound to ADDR: replies leave from it;
//                                      an IPv6 ADDR makes an IPv6 server)
//   udp-client HOST PORT COUNT SIZE    sends COUNT datagrams of SIZE bytes, waits for COUNT replies (IPv6 if HOST is)
//   tcp-server PORT SEND_BYTES         sends SEND_BYTES to each client after reading its data, then closes
//   tcp-client HOST PORT SEND_BYTES    sends SEND_BYTES, half-closes, reads until the server closes
// Prints "ready" (servers) or "done <bytes received>" (clients).
const dgram = require('node:dgram');
const net = require('node:net');
const [mode, ...args] = process.argv.slice(2);

if (mode === 'udp-server') {
  const [port, replySize] = args.map(Number);
  const s = dgram.createSocket(args[2]?.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (_m, from) => s.send(Buffer.alloc(replySize, 0x61), from.port, from.address));
  s.bind(port, args[2], () => console.log('ready'));
} else if (mode === 'udp-client') {
  const [host, portText, countText, sizeText] = args;
  const [port, count, size] = [portText, countText, sizeText].map(Number);
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let got = 0, bytes = 0, sent = 0;
  const timer = setTimeout(() => { console.log(`timeout ${got}`); process.exit(1); }, 10000);
  s.on('message', (m) => {
    got++; bytes += m.length;
    if (got === count) { clearTimeout(timer); console.log(`done ${bytes}`); s.close(); }
  });
  // one at a time: no socket buffer drops, so the counts are exact
  const next = () => { if (sent < count) { sent++; s.send(Buffer.alloc(size, 0x62), port, host, () => setTimeout(next, 2)); } };
  next();
} else if (mode === 'tcp-server') {
  const [port, sendBytes] = args.map(Number);
  net.createServer((c) => {
    c.on('data', () => {});
    c.on('end', () => c.end(Buffer.alloc(sendBytes, 0x63)));
  }).listen(port, () => console.log('ready'));
} else if (mode === 'tcp-client') {
  const [host, portText, sendText] = args;
  let bytes = 0;
  const c = net.connect(Number(portText), host, () => c.end(Buffer.alloc(Number(sendText), 0x64)));
  c.on('data', (d) => { bytes += d.length; });
  c.on('close', () => console.log(`done ${bytes}`));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
