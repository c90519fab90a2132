// Admin.Capture as a gRPC client of its own (run inside a test namespace, where the daemon's
// port is): loads proto/flowlens/v1/flowlens.proto, writes the chunks to FILE, prints
// "started" when the first bytes (the file's header) arrive and "result <json>" at the end.
//   grpc-capture-client.cjs HOST:PORT FILE '<CaptureRequest as JSON>'
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, file, request] = process.argv.slice(2);
const def = loader.loadSync(path.join(__dirname, '../../proto/flowlens/v1/flowlens.proto'), { longs: Number, defaults: true });
const { Admin } = grpc.loadPackageDefinition(def).flowlens.v1;
const client = new Admin(target, grpc.credentials.createInsecure());
const out = fs.openSync(file, 'w');
let started = false;
const call = client.Capture(JSON.parse(request));
call.on('data', (m) => {
  if (m.data && m.data.length) {
    fs.writeSync(out, m.data);
    if (!started) { started = true; console.log('started'); }
  }
  if (m.result) console.log(`result ${JSON.stringify(m.result)}`);
});
call.on('error', (e) => { console.log(`error ${e.code} ${e.details}`); process.exit(1); });
call.on('end', () => { fs.closeSync(out); client.close(); });
