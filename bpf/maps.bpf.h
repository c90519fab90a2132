/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* maps.bpf.h — every map of flow.bpf.c, each with its role. */
#ifndef FLOWLENS_MAPS_BPF_H
#define FLOWLENS_MAPS_BPF_H

#include "flow.h"

/*
 * The flow table: an open-addressing hash table (linear probing) that the BPF
 * program keeps in a plain array, which user space maps into its memory.
 *
 * Why not a BPF hash map: user space can only read a BPF hash through the
 * bpf() system call, and reading 1M entries that way (BPF_MAP_LOOKUP_BATCH)
 * costs ~0.5 s of kernel time per drain. An mmapped array is read at memory
 * speed, with no system call per entry. The price is that the program does its
 * own hashing and uses atomic instructions (shared slots instead of per-CPU
 * values); a flow's packets normally arrive on one CPU, so those atomics stay
 * uncontended.
 *
 * Why two epochs: a drain must not lose increments made while it runs. The
 * table holds two regions of table_slots slots. The program reads drain_epoch
 * once per packet and counts in that region. To drain, user space flips
 * drain_epoch and then updates grace_barrier, which makes the kernel wait for
 * an RCU grace period (maybe_wait_bpf_programs): every program that could still
 * count into the old region has finished. The old region is then quiescent:
 * user space reads the slots listed in claimed_slots and marks them empty,
 * while packets go to the other region. Nothing is counted twice or lost.
 *
 * max_entries are set by user space at load time (--map-size).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct flow_record);
} flow_slots SEC(".maps");

/* Indexes of the slots claimed in each epoch, in claim order: [epoch * max_flows + n]. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} claimed_slots SEC(".maps");

/* Overflow, non-IP and malformed counts per (interface, direction, epoch). Rare path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FLOW_IFACE_MAX_ENTRIES);
	__type(key, struct iface_key);
	__type(value, struct iface_counters);
} iface_counters SEC(".maps");

/*
 * The gateway's own addresses (key struct own_addr), filled and refreshed by
 * user space when roles are on: at a WAN ingress, a packet to an address not
 * in here is forwarded (routed), so a LAN interface counts it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOW_OWN_ADDRS_MAX);
	__type(key, struct own_addr);
	__type(value, __u8);
} own_addrs SEC(".maps");

/* An echo request the gateway itself sent: (version, remote address, echo id). */
struct own_echo_key {
	__u8 ip_version;
	__u8 pad0;
	__u16 id;          /* the ICMP echo identifier, network order */
	__u8 addr[16];     /* the remote end, network order */
};

/*
 * Roles on: the echo requests the gateway sent out of a WAN interface, so that
 * a WAN ingress tells a reply to the gateway's own ping from one to a device's
 * masqueraded ping (conntrack's kfuncs look up TCP and UDP only). LRU: old
 * pings fall out by themselves.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct own_echo_key);
	__type(value, __u8);
} own_echoes SEC(".maps");

/* The program's own failures, indexed by enum flow_error. Cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_ERR__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} bpf_errors SEC(".maps");

/*
 * DNS answers and TLS ClientHellos for user space (struct capture_record), read
 * at each drain. Submitted without a wakeup: nobody waits on it, the drain
 * polls. Its size is set by user space at load time (power of two, >= a page).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} captures SEC(".maps");

/* Captures lost, indexed by enum capture_error. Cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAPTURE_ERR__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} capture_errors SEC(".maps");

/*
 * Packet captures (flowlens capture): frames that match a filter in
 * pcap_filters, each a struct pcap_header and the frame's first bytes. User
 * space polls it while a capture runs (no wakeup). Its size is set at load
 * (packetCaptureRingBytes); a frame that finds no room is counted in
 * pcap_counters[slot].dropped of every capture it matched.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} pcap_ring SEC(".maps");

/* A frame being copied: bpf_ringbuf_reserve() needs a constant size, so the frame is
 * copied here first and then output with its own length. */
struct pcap_staging {
	struct pcap_header hdr;
	__u8 data[PCAP_SNAP_MAX];
};

/*
 * One staging area per CPU, indexed by bpf_get_smp_processor_id(): a plain
 * array, because a per-CPU array's value cannot hold 64 KiB. Sized to the
 * possible CPUs at load (one entry when captures are off). The hooks do not
 * nest on one CPU (XDP and TC ingress run in the receive softirq, TC egress
 * with bottom halves off), so no two frames share an area at once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcap_staging);
} pcap_staging SEC(".maps");

/* Frames matched and dropped per capture slot, summed over CPUs by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCAP_SLOTS);
	__type(key, __u32);
	__type(value, struct pcap_counters);
} pcap_counters SEC(".maps");

/* A map-in-map whose only job is its update: the kernel returns from it after an RCU grace period. */
struct grace_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} grace_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct grace_inner);
} grace_barrier SEC(".maps") = {
	.values = { &grace_inner },
};

/* Which epoch region the programs count into; flipped by user space through mmap. */
volatile __u32 drain_epoch = 0;
/* Bit i: the capture in pcap_filters[i] runs. Written by user space through mmap; 0 costs one load per frame. */
volatile __u32 pcap_active = 0;
/* The running captures' filters; a slot is written while its bit in pcap_active is clear. */
struct pcap_filter pcap_filters[PCAP_SLOTS] = {};
/* Slots claimed per epoch (may pass max_flows: those claims were given back). Reset by the drain. */
__u64 claimed[2] = {};

#endif /* FLOWLENS_MAPS_BPF_H */
