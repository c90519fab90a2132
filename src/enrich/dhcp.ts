/**
 * A DHCP client message parser (RFC 2131 BOOTP layout, RFC 2132 options) for
 * the captures of UDP packets to port 67: which MAC asks, with which host name
 * (option 12), FQDN (option 81, RFC 4702) and address (ciaddr, or the
 * requested address of option 50). That is how a LAN device says its own name.
 *
 * Input comes off the wire and may be cut (captures hold at most 512 payload
 * bytes) or hostile: the parser never throws; it returns undefined for what is
 * not a BOOTREQUEST from an Ethernet client, and the options read before a cut.
 */
import { formatAddress } from '../net/address-text.js';

const BOOTREQUEST = 1;
const HTYPE_ETHERNET = 1;
const MAGIC = 0x63825363;
const OPTIONS_AT = 240;

/** DHCP message types (option 53) by number. */
export const DHCP_MESSAGE_TYPES: Record<number, string> = {
  1: 'discover', 2: 'offer', 3: 'request', 4: 'decline', 5: 'ack', 6: 'nak', 7: 'release', 8: 'inform',
};

export interface DhcpRequest {
  /** The client's hardware address (chaddr), "aa:bb:cc:dd:ee:ff". */
  mac: string;
  /** 'discover', 'request', 'inform', ... (option 53); 'bootp' without it. */
  messageType: string;
  /** Option 12, as sent (printable ASCII only). */
  hostName?: string;
  /** Option 81's domain name, lowercase, without the trailing dot. */
  fqdn?: string;
  /** The client's address: ciaddr when set, else option 50 (the address it asks for). */
  address?: string;
}

/** A host name as a label may hold: printable ASCII, no spaces or control bytes (a hostile client's bytes go nowhere). */
function cleanName(b: Buffer): string | undefined {
  const text = b.toString('latin1').replace(/\0+$/, '');
  return text.length > 0 && text.length <= 255 && /^[\x21-\x7e]+$/.test(text) ? text : undefined;
}

/** Option 81's name: DNS wire labels (the E flag, 0x04) or, in old clients, ASCII. */
function fqdnOf(v: Buffer): string | undefined {
  if (v.length < 4) return undefined;
  const name = v.subarray(3);
  if (!(v[0]! & 0x04)) return cleanName(name)?.toLowerCase().replace(/\.$/, '');
  const labels: string[] = [];
  for (let i = 0; i < name.length;) {
    const len = name[i]!;
    if (len === 0) break;
    if (len > 63 || i + 1 + len > name.length) return undefined;
    const label = cleanName(name.subarray(i + 1, i + 1 + len));
    if (!label) return undefined;
    labels.push(label.toLowerCase());
    i += 1 + len;
  }
  return labels.length ? labels.join('.') : undefined;
}

export function parseDhcpRequest(b: Buffer): DhcpRequest | undefined {
  if (b.length < OPTIONS_AT || b[0] !== BOOTREQUEST || b[1] !== HTYPE_ETHERNET || b[2] !== 6) return undefined;
  if (b.readUInt32BE(236) !== MAGIC) return undefined;
  const mac = [...b.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const out: DhcpRequest = { mac, messageType: 'bootp' };
  const ciaddr = b.readUInt32BE(12);
  if (ciaddr !== 0) out.address = formatAddress(b, 12, 4);
  for (let i = OPTIONS_AT; i < b.length;) {
    const code = b[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255 || i + 1 >= b.length) break;
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) break;  // cut: keep what was read
    const v = b.subarray(i + 2, i + 2 + len);
    if (code === 53 && len === 1) out.messageType = DHCP_MESSAGE_TYPES[v[0]!] ?? `type-${v[0]}`;
    else if (code === 12) { const n = cleanName(v); if (n) out.hostName = n; }
    else if (code === 81) { const n = fqdnOf(v); if (n) out.fqdn = n; }
    else if (code === 50 && len === 4 && out.address === undefined) out.address = formatAddress(v, 0, 4);
    i += 2 + len;
  }
  return out;
}
