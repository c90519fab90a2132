/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * pcap.bpf.h — packet captures (flowlens capture): a frame that matches the
 * filter of a running capture (pcap_filters, the bits of pcap_active) is
 * copied whole, up to the largest snap length of the captures it matches,
 * into pcap_ring, once for all of them. It runs in the counting programs, so
 * a capture sees the frames they count: both hooks, both directions, every
 * interface the programs are attached to. The filter reads the headers with
 * a short parser of its own (pcap_parse, below: why).
 *
 * Cost when no capture runs: one load of pcap_active per frame. The code sits
 * in global functions called by the hooks after counting, with the context
 * only: verified once and alone, so the counting path's verification (and
 * its budget) is what it was without captures.
 */
#ifndef FLOWLENS_PCAP_BPF_H
#define FLOWLENS_PCAP_BPF_H

#include "flow.h"
#include "parse.bpf.h"

/* What the filters look at: the parsed key (ifindex and direction always, the rest for IP frames). */
struct pcap_frame {
	struct flow_key key;
	__u32 frame_len;   /* L2 bytes of the frame, non-linear part included */
	__u32 is_ip;       /* the frame parsed as an IP packet: key's addresses, protocol, ports hold */
};

static __always_inline bool addr_equal(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static __always_inline bool addr_in(const __u8 *a, const __u8 *net, const __u8 *mask)
{
	const __u32 *x = (const __u32 *)a, *n = (const __u32 *)net, *m = (const __u32 *)mask;

	return (x[0] & m[0]) == n[0] && (x[1] & m[1]) == n[1] && (x[2] & m[2]) == n[2] && (x[3] & m[3]) == n[3];
}

/* Whether the frame matches the filter in slot `slot`: a global function, verified once for every slot and frame. */
__noinline int pcap_matches(__u32 slot, const struct pcap_frame *fr)
{
	const struct pcap_filter *f;
	const struct flow_key *k;
	__u8 m;

	if (!fr || slot >= PCAP_SLOTS)
		return false;
	f = &pcap_filters[slot];
	k = &fr->key;
	m = f->match;
	if (f->ifindex && f->ifindex != k->ifindex)
		return false;
	if (!m)
		return true;
	/* every other condition is about IP: a non-IP or malformed frame matches none */
	if (!fr->is_ip)
		return false;
	if ((m & (PCAP_MATCH_HOST | PCAP_MATCH_NET | PCAP_MATCH_SESSION)) && k->ip_version != f->ip_version)
		return false;
	if ((m & PCAP_MATCH_HOST) && !addr_equal(k->src_addr, f->host) && !addr_equal(k->dst_addr, f->host))
		return false;
	if ((m & PCAP_MATCH_NET) && !addr_in(k->src_addr, f->net, f->net_mask) &&
	    !addr_in(k->dst_addr, f->net, f->net_mask))
		return false;
	if ((m & (PCAP_MATCH_PROTO | PCAP_MATCH_SESSION)) && k->protocol != f->protocol)
		return false;
	if ((m & PCAP_MATCH_PORT) &&
	    ((k->protocol != IPPROTO_TCP && k->protocol != IPPROTO_UDP) ||
	     (k->src_port != f->port && k->dst_port != f->port)))
		return false;
	if (m & PCAP_MATCH_SESSION) {
		bool ports = m & PCAP_MATCH_SESSION_PORTS;
		bool ab = addr_equal(k->src_addr, f->peer_a) && addr_equal(k->dst_addr, f->peer_b) &&
			  (!ports || (k->src_port == f->port_a && k->dst_port == f->port_b));
		bool ba = addr_equal(k->src_addr, f->peer_b) && addr_equal(k->dst_addr, f->peer_a) &&
			  (!ports || (k->src_port == f->port_b && k->dst_port == f->port_a));

		if (!ab && !ba)
			return false;
	}
	return true;
}

static __always_inline void count_pcap(__u32 slots, bool dropped)
{
	for (__u32 i = 0; i < PCAP_SLOTS; i++) {
		__u32 key = i;
		struct pcap_counters *c;

		if (!(slots & (1u << i)))
			continue;
		c = bpf_map_lookup_elem(&pcap_counters, &key);
		if (!c)
			continue;
		if (dropped)
			c->dropped += 1;
		else
			c->matched += 1;
	}
}

/* Copies the frame for every running capture whose filter it matches; returns the slots it matched. */
static __always_inline int pcap_copy(void *ctx, bool xdp, const struct pcap_frame *fr)
{
	__u32 active = pcap_active, slots = 0, snap = 0, len, cpu;
	struct pcap_staging *s;

	if (!fr)
		return 0;
	for (__u32 i = 0; i < PCAP_SLOTS; i++) {
		if (!(active & (1u << i)) || !pcap_matches(i, fr))
			continue;
		slots |= 1u << i;
		if (pcap_filters[i].snaplen > snap)
			snap = pcap_filters[i].snaplen;
	}
	if (!slots)
		return 0;
	count_pcap(slots, false);
	len = fr->frame_len < snap ? fr->frame_len : snap;
	if (len > PCAP_SNAP_MAX)
		len = PCAP_SNAP_MAX;
	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&pcap_staging, &cpu);
	if (!s || len == 0 || load_payload(ctx, xdp, 0, s->data, len))
		goto lost;
	s->hdr.time_ns = bpf_ktime_get_ns();
	s->hdr.ifindex = fr->key.ifindex;
	s->hdr.orig_len = fr->frame_len;
	s->hdr.captured_len = len;
	s->hdr.direction = fr->key.direction;
	s->hdr.slots = slots;
	s->hdr.pad0 = 0;
	/* no wakeup: nobody sleeps on the ring, user space polls it while a capture runs */
	if (bpf_ringbuf_output(&pcap_ring, s, sizeof(s->hdr) + len, BPF_RB_NO_WAKEUP))
		goto lost;
	return slots;
lost:
	count_pcap(slots, true);
	return slots;
}

/*
 * The frame's addresses, protocol and ports for the filters, read again here
 * by a short parser of its own rather than handed over from the counter: the
 * counter's parse state stays out of these functions, so its verification
 * (and its budget) is what it was without captures, and this parser is
 * cheap to verify. It reads what tcpdump's filters read: up to two VLAN tags
 * are skipped, IPv4 options are skipped, a non-first fragment has no ports,
 * and IPv6 extension headers are not walked (the protocol is the IPv6 header's
 * next header, as tcpdump's `ip6 proto` and `port` take it).
 */
static __always_inline void pcap_parse(const struct packet *pkt, struct pcap_frame *fr, __u32 ifindex, __u8 direction)
{
	void *data = pkt->data, *end = pkt->data_end;
	__u32 off = 12;
	__u16 proto;
	__u8 *l4 = NULL;

	__builtin_memset(fr, 0, sizeof(*fr));
	fr->key.ifindex = ifindex;
	fr->key.direction = direction;
	fr->frame_len = pkt->frame_len;
	if (data + 14 > end)
		return;
	proto = bpf_ntohs(*(__u16 *)(data + 12));
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		off += 4;
		if (data + off + 2 > end)
			return;
		proto = bpf_ntohs(*(__u16 *)(data + off));
	}
	off += 2;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;
		__u32 ihl;

		if ((void *)(ip + 1) > end || ip->version != 4)
			return;
		ihl = ip->ihl * 4;
		if (ihl < 20)
			return;
		fr->key.ip_version = 4;
		fr->key.protocol = ip->protocol;
		__builtin_memcpy(fr->key.src_addr, &ip->saddr, 4);
		__builtin_memcpy(fr->key.dst_addr, &ip->daddr, 4);
		fr->is_ip = 1;
		if (!(ip->frag_off & bpf_htons(IP_FRAG_OFFSET_MASK)))
			l4 = (__u8 *)ip + (ihl & 0x3c);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return;
		fr->key.ip_version = 6;
		fr->key.protocol = ip6->nexthdr;
		__builtin_memcpy(fr->key.src_addr, &ip6->saddr, 16);
		__builtin_memcpy(fr->key.dst_addr, &ip6->daddr, 16);
		fr->is_ip = 1;
		l4 = (__u8 *)(ip6 + 1);
	}
	if (!l4 || (void *)(l4 + 4) > end)
		return;
	/* as the counter keys them: ports, or ICMP type and code */
	if (fr->key.protocol == IPPROTO_TCP || fr->key.protocol == IPPROTO_UDP) {
		fr->key.src_port = ((__u16)l4[0] << 8) | l4[1];
		fr->key.dst_port = ((__u16)l4[2] << 8) | l4[3];
	} else if (fr->key.protocol == IPPROTO_ICMP || fr->key.protocol == IPPROTO_ICMPV6) {
		fr->key.src_port = l4[0];
		fr->key.dst_port = l4[1];
	}
}

/*
 * The matching and the copy, in their own global functions: verified once
 * with the frame's key as unknown values, not once more for every way the
 * parse can end (that multiplies past the verifier's budget).
 */
__noinline int pcap_copy_xdp(struct xdp_md *ctx, const struct pcap_frame *fr)
{
	return pcap_copy(ctx, true, fr);
}

__noinline int pcap_copy_skb(struct __sk_buff *ctx, const struct pcap_frame *fr)
{
	return pcap_copy(ctx, false, fr);
}

__noinline int pcap_xdp(struct xdp_md *ctx)
{
	struct packet pkt = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
		/* a multi-buffer frame's length includes its fragments */
		.frame_len = bpf_xdp_get_buff_len(ctx),
	};
	struct pcap_frame fr;

	pcap_parse(&pkt, &fr, ctx->ingress_ifindex, FLOW_DIR_INGRESS);
	return pcap_copy_xdp(ctx, &fr);
}

/* After the counter: headers it pulled into the linear area are there for this parse too. */
__noinline int pcap_skb(struct __sk_buff *skb, __u32 direction)
{
	struct packet pkt = {
		.data = (void *)(long)skb->data,
		.data_end = (void *)(long)skb->data_end,
		.frame_len = skb->len,
		.gso_segs = skb->gso_segs,
		.gso_size = skb->gso_size,
	};
	struct pcap_frame fr;

	pcap_parse(&pkt, &fr, skb->ifindex, direction);
	return pcap_copy_skb(skb, &fr);
}

/* True while a capture runs: the only cost to every frame (one load) when none does. */
static __always_inline bool pcap_running(void)
{
	return pcap_enabled && pcap_active;
}

#endif
