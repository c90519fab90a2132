/**
 * Decodes the capture_records a drain wrote (DNS answers and TLS ClientHellos
 * the BPF program copied, see bpf/flow.h) into Capture objects. Captures are
 * few (at most the ring's capacity per drain), so each becomes an object with
 * its own copy of the payload, safe to keep after the next drain.
 */
import { CAPTURE_DHCP, CAPTURE_DNS, CAPTURE_LLMNR, CAPTURE_MDNS, CAPTURE_TLS, CaptureRecord, FlowKey } from './layout.gen.js';
import { formatAddress } from '../net/address-text.js';
import type { ClockOffset } from './clock.js';
import type { Direction } from './decode.js';

export type CaptureKind = 'dns' | 'tls' | 'dhcp' | 'mdns' | 'llmnr';

const KINDS: Record<number, CaptureKind> = { [CAPTURE_DNS]: 'dns', [CAPTURE_TLS]: 'tls', [CAPTURE_DHCP]: 'dhcp', [CAPTURE_MDNS]: 'mdns', [CAPTURE_LLMNR]: 'llmnr' };

/** One packet the BPF program copied for the control plane. */
export interface Capture {
  /**
   * 'dns': a packet from port 53 (UDP, or TCP with its 2-byte length prefix); 'tls': a ClientHello to port 443;
   * 'dhcp': a UDP packet to port 67 (a DHCP client's message); 'mdns': a UDP packet from port 5353;
   * 'llmnr': a UDP packet from port 5355 (an LLMNR answer, RFC 4795).
   */
  kind: CaptureKind;
  ifindex: number;
  direction: Direction;
  ipVersion: 4 | 6;
  protocol: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** Wall-clock ms when the packet was seen. */
  time: number;
  /** The L4 payload's first bytes (at most CAPTURE_PAYLOAD_MAX): a copy, safe to keep. */
  payload: Buffer;
  /** L4 payload bytes the packet carried: more than payload.length when the copy was cut. */
  payloadLength: number;
}

const DIRECTIONS: Direction[] = ['ingress', 'egress'];

export function decodeCaptures(buf: Buffer, offset: number, count: number, clock: ClockOffset): Capture[] {
  const view = new DataView(buf.buffer, buf.byteOffset + offset, count * CaptureRecord.size);
  const out: Capture[] = [];
  for (let i = 0; i < count; i++) {
    const r = i * CaptureRecord.size;
    const k = r + CaptureRecord.key;
    const kind = KINDS[view.getUint8(r + CaptureRecord.kind)];
    if (!kind) continue; // a newer BPF program's kind: not ours to read
    const ipVersion = view.getUint8(k + FlowKey.ipVersion) === 6 ? 6 : 4;
    const captured = Math.min(view.getUint16(r + CaptureRecord.capturedLen, true), CaptureRecord.size - CaptureRecord.payload);
    const at = offset + r + CaptureRecord.payload;
    const timeNs = view.getUint32(r + CaptureRecord.timeNs + 4, true) * 4294967296 + view.getUint32(r + CaptureRecord.timeNs, true);
    out.push({
      kind,
      ifindex: view.getUint32(k + FlowKey.ifindex, true),
      direction: DIRECTIONS[view.getUint8(k + FlowKey.direction)] ?? 'ingress',
      ipVersion,
      protocol: view.getUint8(k + FlowKey.protocol),
      src: formatAddress(buf, offset + k + FlowKey.srcAddr, ipVersion),
      dst: formatAddress(buf, offset + k + FlowKey.dstAddr, ipVersion),
      srcPort: view.getUint16(k + FlowKey.srcPort, true),
      dstPort: view.getUint16(k + FlowKey.dstPort, true),
      time: clock.toWallMs(timeNs),
      payload: Buffer.from(buf.subarray(at, at + captured)),
      payloadLength: view.getUint32(r + CaptureRecord.payloadLen, true),
    });
  }
  return out;
}
