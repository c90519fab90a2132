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

/* Counters of one flow, updated with atomic instructions from every CPU. */
struct flow_counters {
	__u64 packets;        /* wire packets (a GSO/GRO super-packet counts as its segments) */
	__u64 bytes;          /* L3 bytes (IP header + payload) of those wire packets */
	__u64 first_seen_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns) of the first packet */
	__u64 last_seen_ns;   /* CLOCK_MONOTONIC_COARSE of the last packet (1-4 ms resolution), >= first_seen_ns once drained */
	__u32 tcp_flags;      /* OR of the TCP flags byte of every packet (FIN=0x01 ... CWR=0x80) */
	union {
		__u32 slot_state; /* kernel table slots: enum flow_slot_state */
		__u32 flow_id;    /* drained records: the key's stable id (native/src/flow_ids.h), or FLOW_ID_NONE */
	};
};

/* flow_counters.flow_id of a drained record that has no id (ids off, or the id limit reached). */
#define FLOW_ID_NONE 0xFFFFFFFFu

/* A slot of the kernel's flow table, and what drain() writes for each flow. */
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
	__u64 ip_packets;         /* drain only (0 in the kernel): IP packets, flows and overflow */
	__u64 ip_bytes;           /* drain only: their L3 bytes */
	__u64 flows;              /* drain only: flow records of this interface and direction */
	__u64 overflow_packets;   /* IP packets counted while the flow table was full */
	__u64 overflow_bytes;     /* their L3 bytes */
	__u64 non_ip_packets;     /* frames that are not IPv4/IPv6 (ARP, LLDP, ...) */
	__u64 non_ip_bytes;       /* their L2 bytes (from the Ethernet header) */
	__u64 malformed_packets;  /* truncated or inconsistent frames */
	__u64 malformed_bytes;    /* their L2 bytes */
	__u64 forwarded_packets;  /* gateway roles: IP packets not counted here, because another
				   * interface counts them (see enum flow_role) */
	__u64 forwarded_bytes;    /* their L3 bytes */
	__u64 gso_added_packets;  /* GSO/GRO super-packets (counted or forwarded): wire packets beyond
				   * the first that each stands for; the kernel's interface counters
				   * count the super-packet once (reconciliation, docs/reconcile.md) */
	__u64 gso_added_bytes;    /* the IP + L4 header bytes of those added packets */
};

/* What drain() writes into the caller's buffer for each interface and direction:
 * the interval's totals. */
struct iface_record {
	struct iface_key key;
	struct iface_counters counters;
};

/* Failures of the BPF program itself, indexed into the bpf_errors map. */
enum flow_error {
	FLOW_ERR_PROBE_LIMIT = 0,   /* no free slot within the probe limit: counted as overflow */
	FLOW_ERR_IFACE_FULL = 1,    /* the iface_counters map was full: a non-flow packet went uncounted */
	FLOW_ERR_CLAIM_RACE = 2,    /* two CPUs inserted one flow at once: drain merges the copies */
	FLOW_ERR_PULL = 3,          /* bpf_skb_pull_data failed on a non-linear skb */
	FLOW_ERR__COUNT = 4,
};

/* State of a flow table slot (flow_counters.slot_state). */
enum flow_slot_state {
	FLOW_SLOT_EMPTY = 0,    /* free: a CPU may claim it with compare-and-swap */
	FLOW_SLOT_CLAIMED = 1,  /* a CPU is writing the key; others wait briefly */
	FLOW_SLOT_READY = 2,    /* key written: match and count */
};

/*
 * Captures: DNS answers, TLS ClientHellos, DHCP client messages and mDNS and
 * LLMNR answers, copied into the captures ring buffer for the control plane to parse
 * (names, SNI, device names). Not counted: the packet is counted as a flow like
 * any other.
 */
enum capture_kind {
	CAPTURE_DNS = 1,  /* UDP or TCP from port 53: an answer (TCP: with its 2-byte length prefix) */
	CAPTURE_TLS = 2,  /* TCP to port 443 whose payload starts a TLS handshake record with a ClientHello */
	CAPTURE_DHCP = 3, /* UDP to port 67: a DHCP client's DISCOVER/REQUEST/INFORM (or a relay's copy) */
	CAPTURE_MDNS = 4, /* UDP from port 5353: an mDNS announcement or answer */
	CAPTURE_LLMNR = 5, /* UDP from port 5355: an LLMNR answer (RFC 4795), a host naming itself */
};

/* L4 payload bytes a capture holds at most; the rest of the packet is not copied. */
#define CAPTURE_PAYLOAD_MAX 512

/* One record of the captures ring buffer, and what drain() writes for each. */
struct capture_record {
	struct flow_key key;    /* the packet's flow key (ifindex, direction, addresses, ports) */
	__u64 time_ns;          /* CLOCK_MONOTONIC (bpf_ktime_get_ns) when the packet was seen */
	__u32 payload_len;      /* L4 payload bytes the packet carries (may exceed captured_len) */
	__u16 captured_len;     /* bytes of payload[] filled, <= CAPTURE_PAYLOAD_MAX */
	__u8 kind;              /* enum capture_kind */
	__u8 pad0;              /* always 0 */
	__u8 payload[CAPTURE_PAYLOAD_MAX];  /* the L4 payload's first captured_len bytes, as on the wire */
};

/* Captures that were lost, indexed into the capture_errors map. */
enum capture_error {
	CAPTURE_ERR_RING_FULL = 0,  /* the ring buffer had no room: user space drains too rarely */
	CAPTURE_ERR_LOAD = 1,       /* copying the payload failed (it was not where the headers said) */
	CAPTURE_ERR__COUNT = 2,
};

/*
 * Packet captures (flowlens capture, the capture API): whole frames that match
 * a capture's filter, copied into the pcap_ring ring buffer as a struct
 * pcap_header followed by the frame's first captured_len bytes (from the
 * Ethernet header on). Up to PCAP_SLOTS captures run at once, each in a slot
 * of pcap_filters; one copy serves every capture that matches the frame.
 */
#define PCAP_SLOTS 4
/* Frame bytes a capture record holds at most (GSO super-packets up to 64 KiB fit). */
#define PCAP_SNAP_MAX 65535

/* Which conditions of a pcap_filter apply (all of them must hold). None: every frame. */
enum pcap_match {
	PCAP_MATCH_HOST = 1,     /* source or destination address is host[] */
	PCAP_MATCH_NET = 2,      /* source or destination address is in net[]/net_mask[] */
	PCAP_MATCH_PORT = 4,     /* TCP or UDP, source or destination port is port */
	PCAP_MATCH_PROTO = 8,    /* IP protocol is protocol */
	PCAP_MATCH_SESSION = 16, /* protocol, and (peer_a:port_a, peer_b:port_b) either way round */
	PCAP_MATCH_SESSION_PORTS = 32,  /* with SESSION: the ports must match too (not ICMP) */
};

/* One capture's filter, written by user space into pcap_filters[slot]. */
struct pcap_filter {
	__u32 ifindex;       /* 0: every interface the programs are attached to */
	__u32 snaplen;       /* frame bytes to keep, 1..PCAP_SNAP_MAX */
	__u8 match;          /* enum pcap_match bits */
	__u8 ip_version;     /* 4 or 6: of host, net and the session's peers */
	__u8 protocol;       /* PCAP_MATCH_PROTO, PCAP_MATCH_SESSION: IP protocol number */
	__u8 pad0;           /* always 0 */
	__u16 port;          /* PCAP_MATCH_PORT, host order */
	__u16 port_a;        /* PCAP_MATCH_SESSION_PORTS: peer_a's port, host order */
	__u16 port_b;        /* peer_b's port, host order */
	__u16 pad1;          /* always 0 */
	__u32 pad2;          /* always 0 */
	__u8 host[16];       /* network order; IPv4 uses bytes 0..3, the rest are 0 */
	__u8 net[16];        /* network order, already masked */
	__u8 net_mask[16];   /* network order */
	__u8 peer_a[16];     /* network order */
	__u8 peer_b[16];     /* network order */
};

/* What precedes each frame in pcap_ring. */
struct pcap_header {
	__u64 time_ns;       /* CLOCK_MONOTONIC (bpf_ktime_get_ns) when the hook saw the frame */
	__u32 ifindex;       /* interface index, host order */
	__u32 orig_len;      /* the frame's length (L2), non-linear part included */
	__u32 captured_len;  /* frame bytes that follow, <= PCAP_SNAP_MAX */
	__u8 direction;      /* enum flow_direction */
	__u8 slots;          /* bit i: the frame matched the capture in slot i */
	__u16 pad0;          /* always 0 */
};

/* Per capture slot: frames it matched and frames lost. Cumulative, reset when a capture starts. */
struct pcap_counters {
	__u64 matched;       /* frames that matched the filter */
	__u64 dropped;       /* of those, not copied: pcap_ring was full (or the copy failed) */
};

/*
 * An interface's role on a gateway (settings: interfaces[].role). With roles,
 * a forwarded packet is counted in flows on one interface only: a LAN
 * interface (the device's side, before SNAT / after DNAT). On a WAN interface
 * and at a LAN egress that came from another LAN interface, forwarded packets
 * go to iface_counters.forwarded_* instead. docs/gateway.md says why.
 */
enum flow_role {
	FLOW_ROLE_NONE = 0,  /* a host's own interface: every packet counted, as without roles */
	FLOW_ROLE_LAN = 1,   /* towards the devices */
	FLOW_ROLE_WAN = 2,   /* upstream */
};

/* Interfaces that can have a role (config.bpf.h role_ifindex[]). */
#define FLOW_ROLE_SLOTS 16

/* A key of the own_addrs map: one of the gateway's own addresses, filled by user space. */
struct own_addr {
	__u8 ip_version;    /* 4 or 6 */
	__u8 pad0[3];       /* always 0 */
	__u8 addr[16];      /* network order; IPv4 uses bytes 0..3, the rest are 0 */
};

/* Entries own_addrs holds. */
#define FLOW_OWN_ADDRS_MAX 256

/* Interfaces x directions x epochs the iface_counters map holds. */
#define FLOW_IFACE_MAX_ENTRIES 1024

#endif /* FLOWLENS_FLOW_H */
