/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * flow.h — the record layout shared by the BPF programs (bpf/flow.bpf.c), the
 * native addon (native/) and, through the generated src/collector/layout.gen.ts,
 * the TypeScript decoder. It is the only definition: change it here, run
 * `npm run generate`, and the drift test fails until every copy agrees.
 *
 * Fixed-width types only, no kernel headers. Every struct is naturally aligned
 * with its padding written out, so keys never differ in invisible bytes.
 */
#ifndef FLOWLENS_FLOW_H
#define FLOWLENS_FLOW_H

#ifdef __BPF__
/* types come from linux/types.h via the BPF program's includes */
#else
#include <linux/types.h>
#endif

/* Which hook saw the packet. */
enum flow_direction {
	FLOW_DIR_INGRESS = 0,
	FLOW_DIR_EGRESS = 1,
};

/* One direction of one conversation on one interface. */
struct flow_key {
	__u32 ifindex;      /* interface index, host order */
	__u8 direction;     /* enum flow_direction */
	__u8 ip_version;    /* 4 or 6 */
	__u8 protocol;      /* IP protocol number (IPPROTO_*), after IPv6 extension headers */
	__u8 pad0;          /* always 0 */
	__u8 src_addr[16];  /* network order; IPv4 uses bytes 0..3, the rest are 0 */
	__u8 dst_addr[16];  /* network order; IPv4 uses bytes 0..3, the rest are 0 */
	__u16 src_port;     /* host order; ICMP/ICMPv6 type; 0 for other protocols and non-first fragments */
	__u16 dst_port;     /* host order; ICMP/ICMPv6 code; 0 for other protocols and non-first fragments */
	__u32 pad1;         /* always 0 */
};

/* Counters of one flow (per CPU in the kernel, summed by the addon). */
struct flow_counters {
	__u64 packets;        /* wire packets (a GSO/GRO super-packet counts as its segments) */
	__u64 bytes;          /* L3 bytes (IP header + payload) of those wire packets */
	__u64 first_seen_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns) of the first packet; 0 = none on this CPU */
	__u64 last_seen_ns;   /* CLOCK_MONOTONIC of the last packet */
	__u16 tcp_flags;      /* OR of the TCP flags byte of every packet (FIN=0x01 ... CWR=0x80) */
	__u16 pad0;           /* always 0 */
	__u32 pad1;           /* always 0 */
};

/* What drain() writes into the caller's buffer for each flow. */
struct flow_record {
	struct flow_key key;
	struct flow_counters counters;
};

/* Per interface and direction counters for packets that are not flows. */
struct iface_key {
	__u32 ifindex;      /* interface index, host order */
	__u8 direction;     /* enum flow_direction */
	__u8 epoch;         /* drain epoch (0 or 1) the packet was counted in */
	__u16 pad0;         /* always 0 */
};

struct iface_counters {
	__u64 overflow_packets;   /* IP packets counted while the flow table was full */
	__u64 overflow_bytes;     /* their L3 bytes */
	__u64 non_ip_packets;     /* frames that are not IPv4/IPv6 (ARP, LLDP, ...) */
	__u64 non_ip_bytes;       /* their L2 bytes (from the Ethernet header) */
	__u64 malformed_packets;  /* truncated or inconsistent frames */
	__u64 malformed_bytes;    /* their L2 bytes */
};

/* What drain() writes into the caller's buffer for each interface and direction. */
struct iface_record {
	struct iface_key key;
	struct iface_counters counters;
};

/* Failures of the BPF program itself, indexed into the bpf_errors map. */
enum flow_error {
	FLOW_ERR_FLOW_UPDATE = 0,   /* inserting a flow failed for a reason other than a full map */
	FLOW_ERR_IFACE_FULL = 1,    /* the iface_counters map was full: a non-flow packet went uncounted */
	FLOW_ERR_NO_TABLE = 2,      /* the flow table slot was empty (never expected) */
	FLOW_ERR_PULL = 3,          /* bpf_skb_pull_data failed on a non-linear skb */
	FLOW_ERR__COUNT = 4,
};

/* Interfaces x directions x epochs the iface_counters map holds. */
#define FLOW_IFACE_MAX_ENTRIES 1024

#endif /* FLOWLENS_FLOW_H */
