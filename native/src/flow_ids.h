/* SPDX-License-Identifier: MIT */
/*
 * flow_ids.h — stable, dense ids for flow keys, so the control plane can index
 * an array by flow instead of hashing the key's bytes as a string each interval.
 *
 * A key keeps its id from the drain it first appears in until the control plane
 * releases the id (its session ended); a released id goes to a free list and is
 * the next one handed out, so ids stay below (live ids + released ids not yet
 * reused). The addon owns one table per collector and uses it only on the drain's
 * worker thread: nothing here locks.
 */
#ifndef FLOWLENS_FLOW_IDS_H
#define FLOWLENS_FLOW_IDS_H

#include <stddef.h>
#include <stdint.h>
#include "../../bpf/flow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest id limit a caller may ask for (the table's indices are 32-bit). */
#define FLOW_IDS_MAX_LIMIT (1u << 28)

struct flow_ids;

struct flow_ids_stats {
	uint32_t live;      /* keys that hold an id */
	uint32_t released;  /* released ids waiting in the free list */
	uint32_t capacity;  /* hash slots (a power of two, at least twice live) */
};

/* An empty table, or NULL when out of memory. */
struct flow_ids *flow_ids_new(void);
void flow_ids_free(struct flow_ids *t);
/*
 * Writes each record's id into counters.flow_id: its key's id, or a new one while
 * fewer than `limit` ids are live, else FLOW_ID_NONE. Records with equal keys
 * (a claim race the drain did not merge) get the same id. Returns how many
 * records got FLOW_ID_NONE for lack of room (limit or memory).
 */
uint32_t flow_ids_assign(struct flow_ids *t, struct flow_record *recs, uint32_t n, uint32_t limit);
/*
 * Forgets the keys of these ids and puts the ids in the free list. Ids that are
 * not live (never handed out, already released, FLOW_ID_NONE) are skipped.
 * Returns how many were released.
 */
uint32_t flow_ids_release(struct flow_ids *t, const uint32_t *ids, size_t n);
void flow_ids_read_stats(const struct flow_ids *t, struct flow_ids_stats *out);

#ifdef __cplusplus
}
#endif
#endif
