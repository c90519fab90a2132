// Traffic for the dashboard's browser tests, run inside a test namespace:
//   serve                 TCP 443: answers "GET n\n" with n bytes, then closes;
//                         TCP 80: reads an upload to its end, answers "ok";
//                         TCP 8443: echoes (long-lived sessions); UDP 53: answers 300 bytes
//   load PEER[,PEER...]   until killed: every 200 ms downloads and uploads to the
//                         peers (the first ones busiest; sizes rise and fall over
//                         ~40 s, so the live rate visibly changes), a UDP query,
//                         and 40 long-lived TCP sessions that trickle every 2 s
// Prints "ready".
const net = require('node:net');
const dgram = require('node:dgram');

const [mode, list] = process.argv.slice(2);

if (mode === 'serve') {
  let up = 0;
  const ready = () => { if (++up === 4) console.log('ready'); };
  net.createServer((c) => {
    let buf = '';
    c.on('error', () => undefined);
    c.setEncoding('latin1').on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const n = Math.min(Number(buf.slice(4, nl)) || 0, 64 << 20);
      c.end(Buffer.alloc(n, 0x61));
    });
  }).listen(443, ready);
  net.createServer((c) => {
    c.on('error', () => undefined);
    c.on('data', () => undefined);
    c.on('end', () => c.end('ok'));
  }).listen(80, ready);
  net.createServer((c) => { c.on('error', () => undefined); c.pipe(c); }).listen(8443, ready);
  const u = dgram.createSocket('udp4');
  u.on('message', (_m, r) => u.send(Buffer.alloc(300, 0x62), r.port, r.address));
  u.bind(53, ready);
} else if (mode === 'load') {
  const peers = list.split(',');
  const started = Date.now();
  const quiet = (s) => { s.on('error', () => undefined); return s; };
  const download = (peer, bytes) => {
    const s = quiet(net.connect(443, peer));
    s.on('connect', () => s.write(`GET ${Math.round(bytes)}\n`));
    s.on('data', () => undefined);
  };
  const upload = (peer, bytes) => {
    const s = quiet(net.connect(80, peer));
    s.on('connect', () => s.end(Buffer.alloc(Math.round(bytes), 0x63)));
    s.on('data', () => undefined);
  };
  const udp = quiet(dgram.createSocket('udp4'));
  udp.on('message', () => undefined);
  let tick = 0;
  setInterval(() => {
    const t = (Date.now() - started) / 1000;
    const wave = 1.1 + Math.sin((2 * Math.PI * t) / 40); // 0.1 .. 2.1
    peers.forEach((peer, i) => {
      const weight = 1 / (i + 1);
      download(peer, 400_000 * weight * wave);
      if (tick % 2 === i % 2) upload(peer, 60_000 * weight * (2.2 - wave));
    });
    udp.send(Buffer.alloc(60, 0x64), 53, peers[tick % peers.length]);
    tick++;
  }, 200);
  // long-lived sessions: a trickle each, spread over the peers
  for (let k = 0; k < 40; k++) {
    const s = quiet(net.connect(8443, peers[k % peers.length]));
    s.on('data', () => undefined);
    setInterval(() => { if (!s.destroyed) s.write(Buffer.alloc(100 + k, 0x65)); }, 2000);
  }
  console.log('ready');
} else {
  console.error(`usage: dashboard-traffic.cjs serve | load PEER[,PEER...]`);
  process.exit(2);
}
