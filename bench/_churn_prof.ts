import { FlowProcessor } from '../src/flows/processor.js';
import { defaultSessionConfig } from '../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../src/net/classify.js';
import { DeviceTable } from '../src/enrich/devices.js';
import { NameTable } from '../src/enrich/names.js';
import { RemoteEnrichment } from '../src/enrich/remote.js';
import { flowBatch, totalsFor, type FlowSpec } from '../test/helpers/flow-batch.js';
function specs(n: number, salt: number): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let i = 0; i < n / 2; i++) {
    const local = `192.168.${(i >> 8) & 0xff}.${i & 0xff}`;
    const remote = `203.${salt & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    const port = 40000 + (i % 20000);
    out.push({ direction: 'egress', protocol: 6, src: local, dst: remote, srcPort: port, dstPort: 443, packets: 10, bytes: 1500, tcpFlags: 0x18, flowId: 2*i });
    out.push({ direction: 'ingress', protocol: 6, src: remote, dst: local, srcPort: 443, dstPort: port, packets: 20, bytes: 100, tcpFlags: 0x18, flowId: 2*i+1 });
  }
  return out;
}
const n = 100000;
for (let r = 0; r < 6; r++) {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['192.168.0.1']);
  const p = new FlowProcessor({ sessions: { ...defaultSessionConfig(), maxSessions: 2_000_000 }, filters: { ignore: [], keep: [] } }, classifier, new RemoteEnrichment(undefined, new NameTable(), new DeviceTable()));
  const s = specs(n, 7 + r);
  const batch = flowBatch(s, 1_000_500);
  const t0 = performance.now();
  p.process({ start: 1_000_000, end: 1_001_000, flows: batch, totals: totalsFor(s) });
  console.log('new', ((performance.now() - t0) * 1e6 / n).toFixed(0), 'ns/flow');
}
