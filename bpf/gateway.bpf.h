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
 *    packet: conntrack has no entry for it yet).
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

/*
 * At a WAN ingress: 1 when the packet is forwarded (a LAN interface counts it
 * at its egress), 0 when it is the gateway's own. ICMP and other protocols
 * without ports are told apart by the destination address only (conntrack's
 * kfuncs look up TCP and UDP only): an ICMP reply to a device's masqueraded
 * ping is counted as the gateway's (docs/gateway.md).
 */
static __always_inline int wan_ingress_forwarded(void *ctx, bool xdp, const struct flow_key *key)
{
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts opts = { .netns_id = BPF_F_CURRENT_NETNS };
	struct bpf_sock *sk;
	struct nf_conn *ct;
	__u32 len;

	if (!key)
		return 0;
	if (key->protocol != IPPROTO_TCP && key->protocol != IPPROTO_UDP)
		return !own_address(key);
	len = fill_tuple(key, &t);
	opts.l4proto = key->protocol;
	if (bpf_ksym_exists(bpf_ct_release)) {
		if (xdp)
			ct = bpf_xdp_ct_lookup(ctx, &t, len, &opts, sizeof(opts));
		else
			ct = bpf_skb_ct_lookup(ctx, &t, len, &opts, sizeof(opts));
		if (ct) {
			unsigned long status = ct->status;

			bpf_ct_release(ct);
			if (status & (FLOW_IPS_SRC_NAT | FLOW_IPS_DST_NAT))
				return 1;
			return !own_address(key);
		}
	}
	if (!own_address(key))
		return 1;
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
__noinline int wan_ingress_forwarded_xdp(struct xdp_md *ctx, const struct flow_key *key)
{
	return wan_ingress_forwarded(ctx, true, key);
}

__noinline int wan_ingress_forwarded_skb(struct __sk_buff *ctx, const struct flow_key *key)
{
	return wan_ingress_forwarded(ctx, false, key);
}

/* Whether another interface counts this packet (then it goes to forwarded_* here). */
static __always_inline bool counted_elsewhere(void *ctx, bool xdp, const struct flow_key *pkey,
					      __u32 ifindex, __u8 direction)
{
	struct flow_key key;
	__u8 role;

	if (!roles_enabled)
		return false;
	role = iface_role(ifindex);
	if (role == FLOW_ROLE_NONE)
		return false;
	if (!xdp && direction == FLOW_DIR_EGRESS)
		return iface_role(((struct __sk_buff *)ctx)->ingress_ifindex) == FLOW_ROLE_LAN;
	if (role == FLOW_ROLE_LAN)
		return false;
	/* a copy for the call, as in capture(): &pkey itself would keep the parse state in memory */
	__builtin_memcpy(&key, pkey, sizeof(key));
	if (xdp)
		return wan_ingress_forwarded_xdp(ctx, &key);
	return wan_ingress_forwarded_skb(ctx, &key);
}

#endif /* FLOWLENS_GATEWAY_BPF_H */
