/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * parse.bpf.h — bounds-checked header parsers: one check per header, through a
 * cursor. They fill a flow key and say how many wire packets and L3 bytes the
 * packet stands for. They never guess: a frame that does not hold what its
 * headers promise is PARSE_TRUNCATED or PARSE_MALFORMED, never a flow.
 */
#ifndef FLOWLENS_PARSE_BPF_H
#define FLOWLENS_PARSE_BPF_H

#include <stdbool.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "flow.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_FRAG_OFFSET_MASK 0x1FFF
#define IPV6_FRAG_OFFSET_MASK 0xFFF8
/* Extension headers walked before giving up (the frame then counts as malformed). */
#define IPV6_MAX_EXT_HEADERS 8
/* VLAN tags parsed: 802.1Q, or 802.1ad outer + 802.1Q inner (QinQ). */
#define MAX_VLAN_TAGS 2

enum parse_result {
	PARSE_FLOW = 0,       /* an IP packet: key, packets and bytes are filled */
	PARSE_NON_IP = 1,     /* a well-formed frame that is not IPv4/IPv6 */
	PARSE_MALFORMED = 2,  /* headers are inconsistent (bad version, lengths) */
	PARSE_TRUNCATED = 3,  /* a header runs past the end of the readable data */
};

/* What a hook knows about the packet before parsing. */
struct packet {
	void *data;
	void *data_end;
	__u32 frame_len;  /* L2 bytes of the whole frame, non-linear part included */
	__u32 gso_segs;   /* TC: segments a GSO/GRO super-packet stands for (0/1: none) */
	__u32 gso_size;   /* TC: payload bytes per segment (0: not GSO) */
};

struct parsed {
	struct flow_key key;
	__u32 packets;    /* wire packets */
	__u32 l3_bytes;   /* L3 bytes of those wire packets */
	__u32 gso_added_bytes;  /* GSO/GRO: header bytes of the segments beyond the first ((packets - 1) x headers) */
	__u8 tcp_flags;
	__u16 payload_off;  /* offset of the L4 payload from the frame start */
	__u32 payload_len;  /* L4 payload bytes (of the whole super-packet for GSO) */
};

/*
 * A cursor keeps its position as a bounded offset, not a pointer: masking the
 * offset (settle()) gives every parse path the same verifier state, so the
 * verifier prunes instead of walking every combination of header lengths.
 */
struct cursor {
	void *data;
	void *end;
	__u32 off;
};

/* Headers are never looked for beyond this offset. */
#define CURSOR_MAX_OFF 0x7ff

/* Returns the next `len` bytes and advances, or NULL if they are not all there. */
static __always_inline void *take(struct cursor *c, __u32 len)
{
	void *p = c->data + c->off;

	if (p + len > c->end)
		return NULL;
	c->off += len;
	return p;
}

/* Forgets how the offset was reached; false if it is beyond CURSOR_MAX_OFF. */
static __always_inline bool settle(struct cursor *c)
{
	if (c->off > CURSOR_MAX_OFF)
		return false;
	c->off &= CURSOR_MAX_OFF;
	return true;
}

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 len;  /* HBH/routing/dstopts: 8-octet units beyond the first 8; AH: 4-octet units minus 2 */
	__u8 rest[6];
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;  /* offset in 8-octet units << 3, plus flags */
	__be32 id;
};

/* Everything the IP layer parser learns that the L4 parser and the length check need. */
struct l3_info {
	__u32 off;      /* offset of the IP header from the frame start */
	__u32 hdr_len;  /* IP header + IPv6 extension headers */
	__u32 ip_len;   /* length the IP header claims (0: unknown, e.g. IPv4 BIG TCP) */
	__u8 no_ports;  /* a non-first fragment: there is no L4 header */
};

static __always_inline int parse_ipv4(struct cursor *c, struct parsed *p, struct l3_info *l3)
{
	struct iphdr *ip = take(c, sizeof(*ip));
	__u32 hl;

	if (!ip)
		return PARSE_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	hl = ip->ihl * 4;
	if (hl > sizeof(*ip) && !take(c, hl - sizeof(*ip)))  /* options */
		return PARSE_TRUNCATED;
	p->key.ip_version = 4;
	p->key.protocol = ip->protocol;
	__builtin_memcpy(p->key.src_addr, &ip->saddr, 4);
	__builtin_memcpy(p->key.dst_addr, &ip->daddr, 4);
	l3->hdr_len = hl;
	l3->ip_len = bpf_ntohs(ip->tot_len);
	l3->no_ports = (ip->frag_off & bpf_htons(IP_FRAG_OFFSET_MASK)) != 0;
	if (l3->ip_len != 0 && l3->ip_len < hl)
		return PARSE_MALFORMED;
	return PARSE_FLOW;
}

static __always_inline int parse_ipv6(struct cursor *c, struct parsed *p, struct l3_info *l3)
{
	__u32 start = c->off;
	struct ipv6hdr *ip6 = take(c, sizeof(*ip6));
	__u8 nexthdr;

	if (!ip6)
		return PARSE_TRUNCATED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	__builtin_memcpy(p->key.src_addr, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst_addr, &ip6->daddr, 16);
	p->key.ip_version = 6;
	/*
	 * payload_len 0 is an empty payload (e.g. next header 59). A jumbogram or
	 * BIG TCP packet also says 0 with more behind it: only a GSO skb, whose
	 * length does not come from ip_len, is trusted with that; otherwise the
	 * headers past byte 40 make it malformed.
	 */
	l3->ip_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	nexthdr = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
		if (!settle(c))
			return PARSE_TRUNCATED;
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
		    nexthdr == IPPROTO_DSTOPTS) {
			struct ipv6_ext *ext = take(c, sizeof(*ext));

			if (!ext)
				return PARSE_TRUNCATED;
			if (ext->len && !take(c, ext->len * 8))
				return PARSE_TRUNCATED;
			nexthdr = ext->nexthdr;
		} else if (nexthdr == IPPROTO_AH) {
			struct ipv6_ext *ext = take(c, sizeof(*ext));
			__u32 total;

			if (!ext)
				return PARSE_TRUNCATED;
			total = ((__u32)ext->len + 2) * 4;
			if (total < sizeof(*ext))
				return PARSE_MALFORMED;
			if (total > sizeof(*ext) && !take(c, total - sizeof(*ext)))
				return PARSE_TRUNCATED;
			nexthdr = ext->nexthdr;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct ipv6_frag *frag = take(c, sizeof(*frag));

			if (!frag)
				return PARSE_TRUNCATED;
			nexthdr = frag->nexthdr;
			if (frag->frag_off & bpf_htons(IPV6_FRAG_OFFSET_MASK)) {
				/* a non-first fragment carries payload, not headers */
				l3->no_ports = 1;
				break;
			}
		} else {
			break;
		}
	}
	if (!l3->no_ports &&
	    (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	     nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH || nexthdr == IPPROTO_FRAGMENT))
		return PARSE_MALFORMED;  /* more extension headers than we walk */
	p->key.protocol = nexthdr;
	l3->hdr_len = c->off - start;
	return PARSE_FLOW;
}

/* Fills ports (ICMP: type and code), TCP flags; returns the L4 header length via *l4_len. */
static __always_inline int parse_l4(struct cursor *c, struct parsed *p, __u32 *l4_len)
{
	__u8 proto = p->key.protocol;

	if (proto == IPPROTO_TCP) {
		__u8 *tcp = take(c, 20);
		__u32 doff;

		if (!tcp)
			return PARSE_TRUNCATED;
		doff = (tcp[12] >> 4) * 4;
		if (doff < 20)
			return PARSE_MALFORMED;
		if (doff > 20 && !take(c, doff - 20))  /* options */
			return PARSE_TRUNCATED;
		p->key.src_port = ((__u16)tcp[0] << 8) | tcp[1];
		p->key.dst_port = ((__u16)tcp[2] << 8) | tcp[3];
		p->tcp_flags = tcp[13];
		*l4_len = doff;
	} else if (proto == IPPROTO_UDP) {
		__u8 *udp = take(c, 8);

		if (!udp)
			return PARSE_TRUNCATED;
		p->key.src_port = ((__u16)udp[0] << 8) | udp[1];
		p->key.dst_port = ((__u16)udp[2] << 8) | udp[3];
		*l4_len = 8;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		/* ICMP's header is 8 bytes, ICMPv6's 4; an error's quoted packet is payload */
		__u32 hl = proto == IPPROTO_ICMP ? 8 : 4;
		__u8 *icmp = take(c, hl);

		if (!icmp)
			return PARSE_TRUNCATED;
		p->key.src_port = icmp[0];  /* type */
		p->key.dst_port = icmp[1];  /* code */
		*l4_len = hl;
	}
	return PARSE_FLOW;
}

/*
 * Parses one frame. On PARSE_FLOW, p->key (but ifindex/direction), p->packets,
 * p->l3_bytes, p->tcp_flags and (when there are ports) p->payload_off and
 * p->payload_len are set.
 */
static __always_inline int parse_packet(const struct packet *pkt, struct parsed *p)
{
	struct cursor c = { .data = pkt->data, .end = pkt->data_end, .off = 0 };
	struct l3_info l3 = {};
	struct ethhdr *eth = take(&c, sizeof(*eth));
	__u32 l4_len = 0, l3_avail;
	__be16 proto;
	int r;

	if (!eth)
		return PARSE_TRUNCATED;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		tag = take(&c, sizeof(*tag));
		if (!tag)
			return PARSE_TRUNCATED;
		proto = tag->encapsulated_proto;
	}

	l3.off = c.off;
	if (proto == bpf_htons(ETH_P_IP))
		r = parse_ipv4(&c, p, &l3);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = parse_ipv6(&c, p, &l3);
	else
		return PARSE_NON_IP;
	if (r != PARSE_FLOW)
		return r;
	if (!settle(&c))
		return PARSE_TRUNCATED;
	if (!l3.no_ports) {
		r = parse_l4(&c, p, &l4_len);
		if (r != PARSE_FLOW)
			return r;
	}

	l3_avail = pkt->frame_len - l3.off;
	if (pkt->gso_size) {
		/*
		 * A GSO/GRO super-packet: the stack sends (or received) gso_segs wire
		 * packets, each with its own copy of the IP and L4 headers. (For tunnels
		 * the inner headers repeat too; those are not added here.)
		 */
		__u32 hdrs = l3.hdr_len + l4_len;
		__u32 segs = pkt->gso_segs;

		if (segs == 0 && l3_avail > hdrs)  /* not filled in by every path */
			segs = (l3_avail - hdrs + pkt->gso_size - 1) / pkt->gso_size;
		if (segs == 0)
			segs = 1;
		p->packets = segs;
		p->l3_bytes = l3_avail + (segs - 1) * hdrs;
		p->gso_added_bytes = (segs - 1) * hdrs;
		p->payload_off = c.off;
		p->payload_len = pkt->frame_len > c.off ? pkt->frame_len - c.off : 0;
		return PARSE_FLOW;
	}
	/* IPv4 tot_len / IPv6 payload_len + 40; Ethernet padding is not L3 */
	if (l3.ip_len == 0 || l3.ip_len > l3_avail)
		return PARSE_MALFORMED;
	if (c.off > l3.off + l3.ip_len)
		return PARSE_MALFORMED;  /* the L4 header lies beyond the IP length */
	p->packets = 1;
	p->l3_bytes = l3.ip_len;
	p->payload_off = c.off;
	p->payload_len = l3.off + l3.ip_len - c.off;
	return PARSE_FLOW;
}

#endif /* FLOWLENS_PARSE_BPF_H */
