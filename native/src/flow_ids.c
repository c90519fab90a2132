// SPDX-License-Identifier: MIT
/*
 * flow_ids.c — the flow key → id table of flow_ids.h.
 *
 * Open addressing with linear probing. A slot holds the whole key (so a lookup
 * touches one slot, not the slot and then a key stored elsewhere), the key's
 * hash (a cheap first comparison, and growing needs no rehash) and its id.
 * Deletion shifts the following run back instead of leaving tombstones, so
 * probe runs never grow with churn. The table doubles when it would be more
 * than half full; by id, `pos` says which slot holds the key, so a release is
 * a direct delete.
 *
 * Per drained flow the cost is one slot's cache miss; assign() computes all the
 * hashes first and prefetches the slot of a record a few places ahead, so those
 * misses overlap instead of queueing.
 */
#include <stdlib.h>
#include <string.h>
#include "flow_ids.h"

#define INITIAL_SLOTS 1024u
#define INITIAL_IDS 1024u
/* records between a slot's prefetch and its use: enough to cover a memory access */
#define PREFETCH_AHEAD 16u

struct slot {
	struct flow_key key;
	uint32_t hash;
	uint32_t id;  /* FLOW_ID_NONE: the slot is empty */
};

struct flow_ids {
	struct slot *slots;
	uint32_t mask;      /* slots - 1 */
	uint32_t live;
	uint32_t next;      /* ids handed out so far: every id is below it */
	uint32_t ids_cap;   /* length of pos and free_ids */
	uint32_t *pos;      /* by id: the slot holding its key, FLOW_ID_NONE once released */
	uint32_t *free_ids; /* released ids, the last released on top */
	uint32_t nfree;
};

_Static_assert(sizeof(struct flow_key) == 48, "key_hash and keys_equal read the key as six words");

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint32_t key_hash(const struct flow_key *k)
{
	uint64_t w[6], h = 0x243f6a8885a308d3ull;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 6; i++)
		h = rotl((h ^ w[i]) * 0x9e3779b97f4a7c15ull, 31);
	/* murmur3's finaliser: every input bit reaches the bits the table uses */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static inline int keys_equal(const struct flow_key *a, const struct flow_key *b)
{
	uint64_t x[6], y[6];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) | (x[5] ^ y[5]));
}

static struct slot *alloc_slots(uint32_t n)
{
	struct slot *s = malloc((size_t)n * sizeof(*s));

	if (s)
		for (uint32_t i = 0; i < n; i++)
			s[i].id = FLOW_ID_NONE;
	return s;
}

struct flow_ids *flow_ids_new(void)
{
	struct flow_ids *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = alloc_slots(INITIAL_SLOTS);
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->mask = INITIAL_SLOTS - 1;
	return t;
}

void flow_ids_free(struct flow_ids *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->pos);
	free(t->free_ids);
	free(t);
}

/* The slot holding the key, or the empty slot where it belongs. */
static uint32_t probe(const struct flow_ids *t, const struct flow_key *k, uint32_t h)
{
	uint32_t i = h & t->mask;

	for (;;) {
		const struct slot *s = &t->slots[i];

		if (s->id == FLOW_ID_NONE || (s->hash == h && keys_equal(&s->key, k)))
			return i;
		i = (i + 1) & t->mask;
	}
}

/* Doubles the slots; 0, or -1 (out of memory, the table unchanged). */
static int grow_slots(struct flow_ids *t)
{
	uint32_t old_n = t->mask + 1, n = old_n * 2;
	struct slot *old = t->slots, *s;

	if (n > 2 * FLOW_IDS_MAX_LIMIT || !(s = alloc_slots(n)))
		return -1;
	t->slots = s;
	t->mask = n - 1;
	for (uint32_t i = 0; i < old_n; i++) {
		uint32_t j;

		if (old[i].id == FLOW_ID_NONE)
			continue;
		for (j = old[i].hash & t->mask; s[j].id != FLOW_ID_NONE; j = (j + 1) & t->mask)
			;
		s[j] = old[i];
		t->pos[old[i].id] = j;
	}
	free(old);
	return 0;
}

/* Room for one more id in pos and free_ids; 0, or -1 (out of memory). */
static int grow_ids(struct flow_ids *t)
{
	uint32_t n = t->ids_cap ? t->ids_cap * 2 : INITIAL_IDS;
	uint32_t *pos, *free_ids;

	if (t->ids_cap >= FLOW_IDS_MAX_LIMIT)
		return -1;
	pos = realloc(t->pos, (size_t)n * sizeof(*pos));
	if (!pos)
		return -1;
	t->pos = pos;
	free_ids = realloc(t->free_ids, (size_t)n * sizeof(*free_ids));
	if (!free_ids)
		return -1;
	t->free_ids = free_ids;
	t->ids_cap = n;
	return 0;
}

/* Gives a new key an id; FLOW_ID_NONE when the limit or memory says no. */
static uint32_t insert(struct flow_ids *t, const struct flow_key *k, uint32_t h, uint32_t at, uint32_t limit)
{
	uint32_t id;

	if (t->live >= limit)
		return FLOW_ID_NONE;
	if (!t->nfree && t->next == t->ids_cap && grow_ids(t))
		return FLOW_ID_NONE;
	if (2 * (uint64_t)(t->live + 1) > (uint64_t)t->mask + 1) {
		if (grow_slots(t))
			return FLOW_ID_NONE;
		at = probe(t, k, h);
	}
	id = t->nfree ? t->free_ids[--t->nfree] : t->next++;
	t->slots[at].key = *k;
	t->slots[at].hash = h;
	t->slots[at].id = id;
	t->pos[id] = at;
	t->live++;
	return id;
}

uint32_t flow_ids_assign(struct flow_ids *t, struct flow_record *recs, uint32_t n, uint32_t limit)
{
	uint32_t refused = 0;

	/* first the hashes, parked in the field the ids go to: one pass in order */
	for (uint32_t i = 0; i < n; i++)
		recs[i].counters.flow_id = key_hash(&recs[i].key);
	for (uint32_t i = 0; i < n; i++) {
		struct flow_counters *c = &recs[i].counters;
		uint32_t h = c->flow_id, at;

		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(&t->slots[recs[i + PREFETCH_AHEAD].counters.flow_id & t->mask]);
		at = probe(t, &recs[i].key, h);
		if (t->slots[at].id != FLOW_ID_NONE) {
			c->flow_id = t->slots[at].id;
			continue;
		}
		c->flow_id = insert(t, &recs[i].key, h, at, limit);
		if (c->flow_id == FLOW_ID_NONE)
			refused++;
	}
	return refused;
}

/* Empties slot i and shifts back the entries after it that probed past it. */
static void delete_at(struct flow_ids *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slots[j].id == FLOW_ID_NONE)
			break;
		home = t->slots[j].hash & t->mask;
		/* the entry at j stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->pos[t->slots[i].id] = i;
		i = j;
	}
	t->slots[i].id = FLOW_ID_NONE;
}

uint32_t flow_ids_release(struct flow_ids *t, const uint32_t *ids, size_t n)
{
	uint32_t released = 0;

	for (size_t k = 0; k < n; k++) {
		uint32_t id = ids[k], at;

		if (id >= t->next || t->pos[id] == FLOW_ID_NONE)
			continue;
		at = t->pos[id];
		t->pos[id] = FLOW_ID_NONE;
		delete_at(t, at);
		t->free_ids[t->nfree++] = id;
		t->live--;
		released++;
	}
	return released;
}

void flow_ids_read_stats(const struct flow_ids *t, struct flow_ids_stats *out)
{
	out->live = t->live;
	out->released = t->nfree;
	out->capacity = t->mask + 1;
}
