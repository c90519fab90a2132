/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * pcap.bpf.h — packet captures (flowlens capture): a frame that matches the
 * filter of a running capture (pcap_filters, the bits of pcap_active) is
 * copied whole, up to the largest snap length of the captures it matches,
 * into pcap_ring, once for all of them. The filter is evaluated on the flow
 * key the counter parsed anyway, so a capture sees exactly what is counted:
 * both hooks, both directions, every interface the programs are attached to.
 *
 * Cost when no capture runs: one load of pcap_active per frame. The code sits
 * in global functions (verified once, called only while a capture runs) and
 * is given a copy of the key, so nothing of it is live across the counting.
 */
#ifndef FLOWLENS_PCAP_BPF_H
#define FLOWLENS_PCAP_BPF_H

#include "flow.h"

/* What the filters look at: the parsed key (ifindex and direction always, the rest for IP frames). */
struct pcap_frame {
	struct flow_key key;
	__u32 frame_len;   /* L2 bytes of the frame (TC: skb->len; XDP: filled in the XDP function) */
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

static __always_inline bool pcap_matches(const struct pcap_filter *f, const struct pcap_frame *fr)
{
	const struct flow_key *k = &fr->key;
	__u8 m = f->match;

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
		const struct pcap_filter *f = &pcap_filters[i];

		if (!(active & (1u << i)) || !pcap_matches(f, fr))
			continue;
		slots |= 1u << i;
		if (f->snaplen > snap)
			snap = f->snaplen;
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

__noinline int pcap_xdp(struct xdp_md *ctx, struct pcap_frame *fr)
{
	if (!fr)
		return 0;
	/* a multi-buffer frame's length includes its fragments */
	fr->frame_len = bpf_xdp_get_buff_len(ctx);
	return pcap_copy(ctx, true, fr);
}

__noinline int pcap_skb(struct __sk_buff *ctx, const struct pcap_frame *fr)
{
	return pcap_copy(ctx, false, fr);
}

/* Called for every frame the counter parsed; does nothing unless a capture runs. */
static __always_inline void pcap(void *ctx, bool xdp, const struct parsed *p, bool is_ip, __u32 ifindex,
				 __u8 direction, __u32 frame_len)
{
	struct pcap_frame fr;

	if (!pcap_enabled || !pcap_active)
		return;
	__builtin_memcpy(&fr.key, &p->key, sizeof(fr.key));
	fr.key.ifindex = ifindex;
	fr.key.direction = direction;
	fr.frame_len = frame_len;
	fr.is_ip = is_ip;
	if (xdp)
		pcap_xdp(ctx, &fr);
	else
		pcap_skb(ctx, &fr);
}

#endif
