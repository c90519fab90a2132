/** Names of IP protocols, TCP flags and ICMP message kinds, shared by every view. */

const PROTOCOLS: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 4: 'ipip', 6: 'tcp', 17: 'udp', 41: 'ipv6', 47: 'gre', 50: 'esp', 51: 'ah',
  58: 'icmpv6', 59: 'none', 89: 'ospf', 103: 'pim', 112: 'vrrp', 132: 'sctp', 136: 'udplite',
};

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export function protocolName(p: number): string {
  return PROTOCOLS[p] ?? `proto-${p}`;
}

/** Inverse of protocolName, also accepting a number ("47"); undefined when unknown. */
export function protocolNumber(name: string): number | undefined {
  const n = name.trim().toLowerCase();
  if (/^\d{1,3}$/.test(n) && Number(n) <= 255) return Number(n);
  const m = /^proto-(\d{1,3})$/.exec(n);
  if (m && Number(m[1]) <= 255) return Number(m[1]);
  for (const [num, v] of Object.entries(PROTOCOLS)) if (v === n) return Number(num);
  if (n === 'ipv6-icmp') return IPPROTO_ICMPV6;
  return undefined;
}

/** Protocols whose ports are real ports (others carry 0, ICMP carries type/code). */
export function hasPorts(p: number): boolean {
  return p === IPPROTO_TCP || p === IPPROTO_UDP || p === 132 || p === 136;
}

export function isIcmp(p: number): boolean {
  return p === IPPROTO_ICMP || p === IPPROTO_ICMPV6;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

export function tcpFlagNames(flags: number): string[] {
  return TCP_FLAGS.filter((_, i) => flags & (1 << i));
}

/**
 * The kind of an ICMP message from its type, so that a request and its reply
 * (echo 8/0, ICMPv6 128/129) belong to one session.
 */
export function icmpKind(protocol: number, type: number): string {
  if (protocol === IPPROTO_ICMP) {
    switch (type) {
      case 0: case 8: return 'echo';
      case 3: return 'dest-unreachable';
      case 5: return 'redirect';
      case 11: return 'time-exceeded';
      case 12: return 'parameter-problem';
      case 13: case 14: return 'timestamp';
      default: return `type-${type}`;
    }
  }
  switch (type) {
    case 128: case 129: return 'echo';
    case 1: return 'dest-unreachable';
    case 2: return 'packet-too-big';
    case 3: return 'time-exceeded';
    case 4: return 'parameter-problem';
    case 133: return 'router-solicit';
    case 134: return 'router-advert';
    case 135: case 136: return 'neighbor-discovery';
    case 143: return 'mld-report';
    default: return `type-${type}`;
  }
}

/** Which ICMP types a sender uses to start an exchange (the other end replies). */
export function icmpIsRequest(protocol: number, type: number): boolean {
  return protocol === IPPROTO_ICMP ? type === 8 || type === 13 : type === 128 || type === 133 || type === 135;
}
