/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * table.bpf.h — find-or-insert in the flow table (see maps.bpf.h for why it is
 * an array). Linear probing from a hash of the key; a slot is claimed with
 * compare-and-swap, its key written, then published as READY with an atomic
 * exchange (a full barrier), so a reader that sees READY sees the whole key.
 */
#ifndef FLOWLENS_TABLE_BPF_H
#define FLOWLENS_TABLE_BPF_H

#include "flow.h"
#include "config.bpf.h"
#include "maps.bpf.h"

/* Slots looked at before a new flow counts as overflow. At most half full, a probe run
 * is short on average, but among a million flows a few runs pass 32. */
#define MAX_PROBES 128
/* Reads of a CLAIMED slot before treating it as another key (the writer needs ~10 ns). */
#define CLAIM_SPINS 16

/* 64-bit mix of the six words of a key (multiply-xorshift, finished with murmur3's fmix64). */
static __always_inline __u64 hash_key(const struct flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = 0x9E3779B97F4A7C15ull;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / 8); i++) {
		h = (h ^ w[i]) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 33;
	return h;
}

static __always_inline bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4] &&
	       x[5] == y[5];
}

enum table_result {
	TABLE_COUNTED = 0,   /* added to an existing flow */
	TABLE_INSERTED = 1,  /* a new flow, counted */
	TABLE_FULL = 2,      /* max_flows reached or no free slot in reach: count as overflow */
};

/*
 * Last seen comes from the coarse monotonic clock (the last tick: 1-4 ms
 * resolution), which costs ~20 ns less per packet than bpf_ktime_get_ns() on
 * the hot path; first seen, taken once per flow, is exact. The drain clamps
 * last seen to no earlier than first seen.
 */
static __always_inline void table_add(struct flow_record *slot, __u64 packets, __u64 bytes,
				      __u32 flags)
{
	__sync_fetch_and_add(&slot->counters.packets, packets);
	__sync_fetch_and_add(&slot->counters.bytes, bytes);
	slot->counters.last_seen_ns = bpf_ktime_get_coarse_ns();
	/* an atomic OR only when it changes something: most packets repeat the flags */
	if ((slot->counters.tcp_flags | flags) != slot->counters.tcp_flags)
		__sync_fetch_and_or(&slot->counters.tcp_flags, flags);
}

/* Claims `slot` for `key` in `epoch`; false if max_flows is reached (the slot is given back). */
static __always_inline bool table_claim(struct flow_record *slot, __u32 slot_index, __u32 epoch,
					const struct flow_key *key, __u64 packets, __u64 bytes,
					__u32 flags)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 n = __sync_fetch_and_add(&claimed[epoch & 1], 1);
	__u32 list_index;
	__u32 *entry;

	if (n >= max_flows) {
		__sync_lock_test_and_set(&slot->counters.slot_state, FLOW_SLOT_EMPTY);
		return false;
	}
	list_index = epoch * max_flows + (__u32)n;
	entry = bpf_map_lookup_elem(&claimed_slots, &list_index);
	if (entry)
		*entry = slot_index;
	__builtin_memcpy(&slot->key, key, sizeof(*key));
	slot->counters.packets = packets;
	slot->counters.bytes = bytes;
	slot->counters.first_seen_ns = now;
	slot->counters.last_seen_ns = now;
	slot->counters.tcp_flags = flags;
	__sync_lock_test_and_set(&slot->counters.slot_state, FLOW_SLOT_READY);
	return true;
}

static __always_inline int table_count(const struct flow_key *key, __u32 epoch, __u64 packets,
				       __u64 bytes, __u32 flags, __u32 *errors)
{
	__u64 h = hash_key(key);
	__u32 base = (epoch & 1) * table_slots;
	/* multiply-shift maps the hash onto [0, table_slots) without a division */
	__u32 home = (__u32)(((h >> 32) * (__u64)table_slots) >> 32);

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < MAX_PROBES; i++) {
		__u32 pos = home + i;
		__u32 index;
		struct flow_record *slot;
		__u32 state;

		if (pos >= table_slots)
			pos -= table_slots;
		index = base + pos;
		slot = bpf_map_lookup_elem(&flow_slots, &index);
		if (!slot)
			return TABLE_FULL;
		state = *(volatile __u32 *)&slot->counters.slot_state;
		if (state == FLOW_SLOT_EMPTY) {
			if (__sync_val_compare_and_swap(&slot->counters.slot_state, FLOW_SLOT_EMPTY,
							FLOW_SLOT_CLAIMED) == FLOW_SLOT_EMPTY)
				return table_claim(slot, index, epoch, key, packets, bytes, flags)
					       ? TABLE_INSERTED
					       : TABLE_FULL;
			state = *(volatile __u32 *)&slot->counters.slot_state;
		}
#pragma clang loop unroll(disable)
		for (int spin = 0; spin < CLAIM_SPINS && state == FLOW_SLOT_CLAIMED; spin++)
			state = *(volatile __u32 *)&slot->counters.slot_state;
		if (state == FLOW_SLOT_READY) {
			if (key_equal(&slot->key, key)) {
				table_add(slot, packets, bytes, flags);
				return TABLE_COUNTED;
			}
		} else if (state == FLOW_SLOT_CLAIMED) {
			/* the writer is slow: if it writes our key, the drain merges the two copies */
			*errors |= 1u << FLOW_ERR_CLAIM_RACE;
		}
	}
	*errors |= 1u << FLOW_ERR_PROBE_LIMIT;
	return TABLE_FULL;
}

#endif /* FLOWLENS_TABLE_BPF_H */
