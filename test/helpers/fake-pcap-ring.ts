/**
 * The addon's four packet capture calls over an in-memory ring of records laid
 * out as bpf/pcap.bpf.h writes them (struct pcap_header + the frame, padded to
 * 8), so PacketCaptures and everything above it run without a kernel.
 */
import { PcapHeader } from '../../src/collector/layout.gen.js';
import type { NativeCollector } from '../../src/native/binding.js';

export class FakeRing {
  records: Buffer[] = [];
  active = 0;
  filters = new Map<number, Buffer>();
  counters = new Map<number, { matched: number; dropped: number }>();

  push(slots: number, ifindex: number, direction: 0 | 1, frame: Buffer, monoNs = process.hrtime.bigint(), snap = frame.length): void {
    const len = Math.min(snap, frame.length);
    const r = Buffer.alloc((PcapHeader.size + len + 7) & ~7);
    r.writeBigUInt64LE(monoNs, PcapHeader.timeNs);
    r.writeUInt32LE(ifindex, PcapHeader.ifindex);
    r.writeUInt32LE(frame.length, PcapHeader.origLen);
    r.writeUInt32LE(len, PcapHeader.capturedLen);
    r[PcapHeader.direction] = direction;
    r[PcapHeader.slots] = slots;
    frame.copy(r, PcapHeader.size, 0, len);
    this.records.push(r);
    for (let s = 0; s < 4; s++) if (slots & (1 << s)) this.counters.get(s)!.matched++;
  }

  native(): NativeCollector {
    return {
      startPacketCapture: (slot: number, filter: Buffer) => {
        if (this.active & (1 << slot)) throw Object.assign(new Error('slot in use'), { code: 'FLOW_ERR_XDP_BUSY' });
        this.filters.set(slot, filter);
        this.counters.set(slot, { matched: 0, dropped: 0 });
        this.active |= 1 << slot;
      },
      stopPacketCapture: (slot: number) => { this.active &= ~(1 << slot); },
      readPackets: (buf: Buffer) => {
        let at = 0, n = 0;
        while (this.records.length && at + this.records[0]!.length <= buf.length) {
          const r = this.records.shift()!;
          r.copy(buf, at);
          at += r.length;
          n++;
        }
        return { records: n, bytes: at };
      },
      packetCaptureCounters: (slot: number) => ({ ...this.counters.get(slot)! }),
    } as unknown as NativeCollector;
  }
}

