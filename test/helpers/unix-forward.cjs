// Reaches a TCP port inside a test's network namespace from outside it: run in
// the namespace (ip netns exec NS node unix-forward.cjs SOCKET PORT), it
// accepts connections on the Unix socket SOCKET (a file: visible from every
// namespace) and joins each to 127.0.0.1:PORT in its own namespace, byte for
// byte. Clients outside connect to SOCKET (grpc "unix:SOCKET", curl
// --unix-socket, http.request({ socketPath })). Prints "ready".
const net = require('node:net');
const fs = require('node:fs');
const [socketPath, port] = process.argv.slice(2);
try { fs.unlinkSync(socketPath); } catch { /* not there */ }
net.createServer((c) => {
  const up = net.connect(Number(port), '127.0.0.1');
  c.pipe(up).pipe(c);
  const close = () => { c.destroy(); up.destroy(); };
  c.on('error', close);
  up.on('error', close);
}).listen(socketPath, () => console.log('ready'));
