/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * gateway.bpf.h — with gateway roles on (config.bpf.h roles_enabled), which
 * interface counts a forwarded packet, so that it is counted once:
 *
 *  - a LAN interface counts what crosses it: ingress (from its devices) and
 *    egress (to them), except, at egress, packets that came in on a LAN
 *    interface (counted at that ingress already);
 *  - a WAN interface counts only the gateway's own traffic: at egress a packet
 *    that came in on a LAN interface (skb->ingress_ifindex) is skipped; at
 *    ingress a packet is forwarded when conntrack has translated its
 *    connection (SNAT/masquerade or DNAT), when it is addressed to none of the
 *    gateway's own addresses (routed), or when it opens a connection to one of
 *    them that no socket of the gateway takes (a DNAT port forward's first
 *    packet: conntrack has no entry for it yet); an ICMP echo reply is the
 *    gateway's own when it answers an echo request the gateway sent itself
 *    (own_echoes, noted at the WAN egress).
 *
 * A skipped packet is counted in iface_counters.forwarded_* of its interface
 * and direction, so per-interface totals still reconcile with the kernel's
 * interface counters. docs/gateway.md has the reasoning.
 */
#ifndef FLOWLENS_GATEWAY_BPF_H
#define FLOWLENS_GATEWAY_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flow.h"
#include "config.bpf.h"
#include "maps.bpf.h"

/* The kernel's conntrack kfuncs (net/netfilter/nf_conntrack_bpf.c). */
struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

/* Only the field read here; CO-RE finds its offset in the running kernel. */
struct nf_conn {
	unsigned long status;
} __attribute__((preserve_access_index));

/* enum ip_conntrack_status: the connection's source / destination was translated. */
#define FLOW_IPS_SRC_NAT (1UL << 4)
#define FLOW_IPS_DST_NAT (1UL << 5)

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts, __u32 opts__sz) __ksym __weak;
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts, __u32 opts__sz) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *nfct) __ksym __weak;

/* The role of an interface (enum flow_role); unrolled over the constant table. */
static __always_inline __u8 iface_role(__u32 ifindex)
{
	if (!ifindex)
		return FLOW_ROLE_NONE;
#pragma unroll
	for (int i = 0; i < FLOW_ROLE_SLOTS; i++)
		if (role_ifindex[i] == ifindex)
			return role_of[i];
	return FLOW_ROLE_NONE;
}

static __always_inline bool own_address(const struct flow_key *key)
{
	struct own_addr a = {};

	a.ip_version = key->ip_version;
	__builtin_memcpy(a.addr, key->dst_addr, sizeof(a.addr));
	return bpf_map_lookup_elem(&own_addrs, &a) != NULL;
}

/* The packet's tuple as the socket and conntrack lookups take it; returns its size. */
static __always_inline __u32 fill_tuple(const struct flow_key *key, struct bpf_sock_tuple *t)
{
	if (key->ip_version == 4) {
		__builtin_memcpy(&t->ipv4.saddr, key->src_addr, 4);
		__builtin_memcpy(&t->ipv4.daddr, key->dst_addr, 4);
		t->ipv4.sport = bpf_htons(key->src_port);
		t->ipv4.dport = bpf_htons(key->dst_port);
		return sizeof(t->ipv4);
	}
	__builtin_memcpy(t->ipv6.saddr, key->src_addr, 16);
	__builtin_memcpy(t->ipv6.daddr, key->dst_addr, 16);
	t->ipv6.sport = bpf_htons(key->src_port);
	t->ipv6.dport = bpf_htons(key->dst_port);
	return sizeof(t->ipv6);
}

static __always_inline bool is_icmp(const struct flow_key *key)
{
	return key->protocol == IPPROTO_ICMP || key->protocol == IPPROTO_ICMPV6;
}

/* ICMP echo request / reply types (ICMPv6: 128 / 129). */
static __always_inline bool echo_type(const struct flow_key *key, bool reply)
{
	if (key->protocol == IPPROTO_ICMP)
		return key->src_port == (reply ? 0 : 8);
	return key->protocol == IPPROTO_ICMPV6 && key->src_port == (reply ? 129 : 128);
}

/*
 * The echo key of an ICMP echo packet: its remote end (`remote_is_src`: the
 * source, else the destination) and identifier, read at l4_off + 4 (the
 * identifier follows type, code and checksum). Returns false when unreadable.
 */
static __always_inline bool echo_key(void *ctx, bool xdp, const struct flow_key *key, __u32 l4_off,
				     bool remote_is_src, struct own_echo_key *e)
{
	__u16 id;

	if (load_payload(ctx, xdp, l4_off + 4, &id, sizeof(id)))
		return false;
	e->ip_version = key->ip_version;
	e->id = id;
	__builtin_memcpy(e->addr, remote_is_src ? key->src_addr : key->dst_addr, sizeof(e->addr));
	return true;
}

/* The L4 header's offset: payload_off less the header the parser took (ICMP 8 bytes, ICMPv6 4). */
static __always_inline __u32 icmp_l4_off(const struct flow_key *key, __u32 payload_off)
{
	return payload_off - (key->protocol == IPPROTO_ICMP ? 8 : 4);
}

/*
 * At a WAN ingress: 1 when the packet is forwarded (a LAN interface counts it
 * at its egress), 0 when it is the gateway's own. In order of cost: a packet
 * to none of the gateway's addresses is routed; one to an address of the
 * gateway is forwarded when conntrack translated its connection; with no
 * conntrack entry (a new connection, or conntrack off) it is the gateway's
 * when one of its sockets takes it. Protocols without ports (ICMP but echo
 * replies, others) to the gateway's address are its own: conntrack's kfuncs
 * look up TCP and UDP only (docs/gateway.md).
 */
static __always_inline int wan_ingress_forwarded(void *ctx, bool xdp, const struct flow_key *key, __u32 payload_off)
{
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts opts = { .netns_id = BPF_F_CURRENT_NETNS };
	struct bpf_sock *sk;
	struct nf_conn *ct;
	__u32 len;

	if (!key)
		return 0;
	/* routed: not addressed to the gateway (the cheap test first: no conntrack lookup) */
	if (!own_address(key))
		return 1;
	if (key->protocol != IPPROTO_TCP && key->protocol != IPPROTO_UDP) {
		struct own_echo_key e = {};

		if (!echo_type(key, true))
			return 0;
		/* a reply to the gateway's own ping, or to a device's (masqueraded) one */
		if (!echo_key(ctx, xdp, key, icmp_l4_off(key, payload_off), true, &e))
			return 0;
		return bpf_map_lookup_elem(&own_echoes, &e) == NULL;
	}
	len = fill_tuple(key, &t);
	opts.l4proto = key->protocol;
	if (bpf_ksym_exists(bpf_ct_release)) {
		if (xdp)
			ct = bpf_xdp_ct_lookup(ctx, &t, len, &opts, sizeof(opts));
		else
			ct = bpf_skb_ct_lookup(ctx, &t, len, &opts, sizeof(opts));
		if (ct) {
			unsigned long status = ct->status;

			/* masqueraded (a reply to a device) or port-forwarded (to a device) */
			bpf_ct_release(ct);
			return (status & (FLOW_IPS_SRC_NAT | FLOW_IPS_DST_NAT)) != 0;
		}
	}
	/* a new connection to the gateway: its own if one of its sockets takes it, else a DNAT forward */
	if (key->protocol == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(ctx, &t, len, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(ctx, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 1;
	bpf_sk_release(sk);
	return 0;
}

/* Global functions: verified once, on their own, and only WAN ingress packets pay for the call. */
__noinline int wan_ingress_forwarded_xdp(struct xdp_md *ctx, const struct flow_key *key, __u32 payload_off)
{
	return wan_ingress_forwarded(ctx, true, key, payload_off);
}

__noinline int wan_ingress_forwarded_skb(struct __sk_buff *ctx, const struct flow_key *key, __u32 payload_off)
{
	return wan_ingress_forwarded(ctx, false, key, payload_off);
}

/* At a WAN egress: notes an echo request the gateway itself sends, for its reply (own_echoes). */
__noinline int note_own_echo(struct __sk_buff *ctx, const struct flow_key *key, __u32 payload_off)
{
	struct own_echo_key e = {};
	__u8 one = 1;

	if (!key || !echo_key(ctx, false, key, icmp_l4_off(key, payload_off), false, &e))
		return 0;
	bpf_map_update_elem(&own_echoes, &e, &one, BPF_ANY);
	return 0;
}

/* Whether another interface counts this packet (then it goes to forwarded_* here). */
static __always_inline bool counted_elsewhere(void *ctx, bool xdp, const struct flow_key *pkey,
					      __u32 payload_off, __u32 ifindex, __u8 direction)
{
	struct flow_key key;
	__u8 role;

	if (!roles_enabled)
		return false;
	role = iface_role(ifindex);
	if (role == FLOW_ROLE_NONE)
		return false;
	if (!xdp && direction == FLOW_DIR_EGRESS) {
		if (iface_role(((struct __sk_buff *)ctx)->ingress_ifindex) == FLOW_ROLE_LAN)
			return true;
		if (role == FLOW_ROLE_WAN && echo_type(pkey, false)) {
			__builtin_memcpy(&key, pkey, sizeof(key));
			note_own_echo(ctx, &key, payload_off);
		}
		return false;
	}
	if (role == FLOW_ROLE_LAN)
		return false;
	/* a copy for the call, as in capture(): &pkey itself would keep the parse state in memory */
	__builtin_memcpy(&key, pkey, sizeof(key));
	if (xdp)
		return wan_ingress_forwarded_xdp(ctx, &key, payload_off);
	return wan_ingress_forwarded_skb(ctx, &key, payload_off);
}

#endif /* FLOWLENS_GATEWAY_BPF_H */
