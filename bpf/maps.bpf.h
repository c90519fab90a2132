/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* maps.bpf.h — every map of flow.bpf.c, each with its role. */
#ifndef FLOWLENS_MAPS_BPF_H
#define FLOWLENS_MAPS_BPF_H

#include "flow.h"

/*
 * Flow tables: per-CPU hashes with plain `+=`.
 *
 * Why per-CPU and not a shared hash with atomics: every packet updates its flow,
 * and a flow's packets arrive on one RX queue (one CPU) most of the time, so a
 * per-CPU value never bounces a cache line between CPUs and needs no lock-prefixed
 * instruction. User space sums the CPUs when it drains.
 *
 * Why two tables (A/B) behind an array-of-maps: a drain must not lose increments
 * made while it runs. The program reads `drain_epoch` once per packet and counts
 * into flow_tables[drain_epoch]. To drain, user space flips drain_epoch and then
 * updates a flow_tables slot, which makes the kernel wait for an RCU grace period
 * (maybe_wait_bpf_programs): every program that could still hold the old epoch has
 * finished. The old table is then quiescent and is read and emptied at leisure,
 * while new packets go to the other table. Nothing is counted twice or lost.
 *
 * max_entries is set by user space at load time (--map-size).
 */
struct flow_table {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_counters);
};

/* Flow table of epoch 0. */
struct flow_table flows_0 SEC(".maps");
/* Flow table of epoch 1. */
struct flow_table flows_1 SEC(".maps");

/* The two flow tables, indexed by drain_epoch; also the RCU barrier for a drain. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct flow_table);
} flow_tables SEC(".maps") = {
	.values = { &flows_0, &flows_1 },
};

/* Overflow, non-IP and malformed counts per (interface, direction, epoch). Rare path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FLOW_IFACE_MAX_ENTRIES);
	__type(key, struct iface_key);
	__type(value, struct iface_counters);
} iface_counters SEC(".maps");

/* The program's own failures, indexed by enum flow_error. Cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_ERR__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} bpf_errors SEC(".maps");

/* Which flow table the programs count into; flipped by user space through mmap. */
volatile __u32 drain_epoch = 0;

#endif /* FLOWLENS_MAPS_BPF_H */
