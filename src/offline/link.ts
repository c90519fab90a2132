/**
 * Capture link types → the Ethernet frames the BPF program parses.
 *
 * The counting program starts at an Ethernet header, so every frame that is
 * not Ethernet is wrapped into one before it runs: a 14-byte header with zero
 * MAC addresses (the source MAC from a cooked header when it has one) and
 * the EtherType the link layer says (Linux cooked: its protocol field; raw
 * IP: from the IP version; BSD loopback: from the address family). The L3
 * bytes, which are all flowlens counts for IP, are the file's own; a non-IP
 * or malformed frame counts 14 + its L3 bytes.
 *
 * Linux cooked captures (`tcpdump -i any`) say which frames the host sent:
 * those are marked 'out' and counted at the egress program, the rest at
 * ingress, as a live flowlens on that host would have.
 */

export const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/** The link types analyze reads, by LINKTYPE_ number (tcpdump.org/linktypes.html). */
const LINK_TYPES: Record<number, string> = {
  0: 'BSD loopback (NULL)',
  1: 'Ethernet',
  101: 'raw IP',
  108: 'OpenBSD loopback',
  113: 'Linux cooked (SLL)',
  228: 'raw IPv4',
  229: 'raw IPv6',
  276: 'Linux cooked v2 (SLL2)',
};

export function linkTypeName(linkType: number): string | undefined {
  return LINK_TYPES[linkType];
}

/** Which way the capturing host saw a frame: 'out' when it sent it, else 'in' (also when the file does not say). */
export type FrameWay = 'in' | 'out';

/** Whether frames of this link type say which way they went. */
export function linkHasDirection(linkType: number): boolean {
  return linkType === 113 || linkType === 276;
}

/** PACKET_OUTGOING in the cooked headers' packet type. */
const PACKET_OUTGOING = 4;

export interface Wrapped {
  /** Bytes written at `at`: the Ethernet frame (the L3 part cut to the captured bytes). */
  length: number;
  /** Bytes the L2 header of the file took (to go from the record's lengths to the frame's). */
  linkHeader: number;
  way: FrameWay;
}

function writeEthHeader(out: Buffer, at: number, type: number, srcMac?: Buffer): void {
  out.fill(0, at, at + 12);
  if (srcMac) srcMac.copy(out, at + 6, 0, 6);
  out.writeUInt16BE(type, at + 12);
}

function ipType(first: number | undefined): number {
  // a version nibble that is neither: IPv4, which the program then calls malformed
  return first !== undefined && first >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP;
}

/**
 * Writes the record data[start, start+capLen) as an Ethernet frame into out
 * at `at` (room: capLen + 14). A record too short for its link header is
 * written as the bytes it has behind an EtherType 0 header (counted non-IP).
 */
export function toEthernet(linkType: number, data: Buffer, start: number, capLen: number, out: Buffer, at: number): Wrapped {
  let hdr = 0;
  let type = 0;
  let way: FrameWay = 'in';
  let srcMac: Buffer | undefined;
  switch (linkType) {
    case 1:
      data.copy(out, at, start, start + capLen);
      return { length: capLen, linkHeader: 0, way };
    case 113: // sll: pkttype, hatype, halen, addr[8], protocol
      hdr = 16;
      if (capLen >= hdr) {
        way = data.readUInt16BE(start) === PACKET_OUTGOING ? 'out' : 'in';
        if (data.readUInt16BE(start + 4) === 6) srcMac = data.subarray(start + 6, start + 12);
        type = data.readUInt16BE(start + 14);
      }
      break;
    case 276: // sll2: protocol, reserved, ifindex, hatype, pkttype, halen, addr[8]
      hdr = 20;
      if (capLen >= hdr) {
        type = data.readUInt16BE(start);
        way = data[start + 10] === PACKET_OUTGOING ? 'out' : 'in';
        if (data[start + 11] === 6) srcMac = data.subarray(start + 12, start + 18);
      }
      break;
    case 101: case 228: case 229:
      type = linkType === 228 ? ETH_P_IP : linkType === 229 ? ETH_P_IPV6 : ipType(data[start]);
      break;
    case 0: case 108: { // a 4-byte address family: host byte order (NULL) or network order (LOOP)
      hdr = 4;
      if (capLen >= hdr) {
        const af = linkType === 108 ? data.readUInt32BE(start) : data.readUInt32LE(start) > 0xffff ? data.readUInt32BE(start) : data.readUInt32LE(start);
        type = af === 2 ? ETH_P_IP : af === 10 || af === 24 || af === 28 || af === 30 ? ETH_P_IPV6 : 0;
      }
      break;
    }
    default:
      throw new Error(`link type ${linkType} is not supported`);
  }
  const body = Math.max(capLen - hdr, 0);
  writeEthHeader(out, at, type, srcMac);
  if (body) data.copy(out, at + ETH_HLEN, start + hdr, start + hdr + body);
  return { length: ETH_HLEN + body, linkHeader: hdr - ETH_HLEN, way };
}
