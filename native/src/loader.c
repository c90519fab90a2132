// SPDX-License-Identifier: MIT
/*
 * loader.c — load, attach, drain and close the flow counter with libbpf.
 * See loader.h for the contract; the drain scheme is explained in
 * bpf/maps.bpf.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "flow.skel.h"

#define MAX_ATTACHMENTS 256
/* Claimed slots the drain prefetches ahead of the one it copies. */
#define DRAIN_PREFETCH 16
#define ROUND_UP8(x) (((x) + 7) & ~(size_t)7)
/* Legacy TC filter identity, used only where TCX is unavailable (kernel < 6.6). */
#define LEGACY_TC_HANDLE 0xF10E
#define LEGACY_TC_PRIORITY 1
#define XDP_FEATURE_BASIC 1 /* NETDEV_XDP_ACT_BASIC */
/* enum bpf_attach_type values of TCX (Linux 6.6); Debian 12's UAPI headers predate them */
#define FL_TCX_INGRESS ((enum bpf_attach_type)46)
#define FL_TCX_EGRESS ((enum bpf_attach_type)47)

enum att_kind { ATT_LINK, ATT_LEGACY_TC };

struct attachment {
	int ifindex;
	enum att_kind kind;
	int link_fd;                   /* ATT_LINK: closing it detaches */
	enum bpf_tc_attach_point point; /* ATT_LEGACY_TC */
	int hook_created;               /* ATT_LEGACY_TC: the clsact qdisc is ours to remove */
};

struct fl_loader {
	struct flow_bpf *skel;
	uint32_t map_entries;  /* max_flows: flows per interval */
	uint32_t table_slots;  /* slots per epoch region */
	int ncpus;
	struct attachment att[MAX_ATTACHMENTS];
	int natt;
	struct flow_record *slots;  /* mmap of flow_slots: 2 x table_slots */
	size_t slots_len;
	uint64_t *claimed_list;     /* mmap of claimed_slots: 2 x max_flows 8-byte elements */
	size_t claimed_len;
	uint64_t claim_races;       /* bpf_errors[FLOW_ERR_CLAIM_RACE] at the last drain */
	/* the captures ring buffer, read in place (see read_captures) */
	uint32_t ring_bytes;        /* its data size (0: captures are off) */
	uint32_t capture_slots;     /* capture records a drain returns at most */
	unsigned long *ring_consumer;  /* mmap of the consumer position page (read-write) */
	void *ring_producer;           /* mmap of the producer position page + the data, twice */
	size_t ring_producer_len;
	/* the packet capture ring (pcap_ring), read in place while a capture runs */
	uint32_t pcap_ring_bytes;      /* its data size (0: packet captures are off) */
	unsigned long *pcap_consumer;
	void *pcap_producer;
	size_t pcap_producer_len;
	struct fl_roles roles;      /* gateway roles given at open (count 0: none) */
};

#ifdef FLOWLENS_BENCH
struct fl_object {
	struct bpf_object *obj;
};
#endif

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- libbpf log capture: the tail of the verifier log goes into error messages ---- */

static char log_buf[64 * 1024];
static size_t log_len;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vsnprintf(line, sizeof(line), fmt, args);
	if (n <= 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (log_len + n >= sizeof(log_buf)) {
		/* keep the tail: drop the older half */
		size_t keep = log_len / 2;
		memmove(log_buf, log_buf + log_len - keep, keep);
		log_len = keep;
	}
	memcpy(log_buf + log_len, line, n);
	log_len += n;
	log_buf[log_len] = 0;
	return 0;
}

static const char *log_tail(size_t max)
{
	return log_len > max ? log_buf + log_len - max : log_buf;
}

static int fail(char *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, FL_ERR_LEN, fmt, ap);
	va_end(ap);
	return code < 0 ? code : -code;
}

/* ---- open / load ---- */

/*
 * Why a load blocks signals and is retried. The verifier stops with EAGAIN
 * whenever a signal is pending for the loading thread (kernel/bpf/verifier.c:
 * signal_pending → -EAGAIN; a syscall can also end with EINTR), and a load
 * takes long enough (seconds on a busy machine) for a profiler's SIGPROF
 * (node --cpu-prof: one a millisecond) or a timer's signal to arrive every
 * time; libbpf's own few EAGAIN retries then fail the same way. So the signals
 * that can wait are blocked for this thread during the load: a blocked signal
 * stays pending without interrupting the kernel and is delivered right after.
 * The rest (SIGSTOP, the freezer, task work, the synchronous faults kept
 * unblocked so a crash still crashes) can still interrupt it, so an
 * interrupted load is retried, from a fresh open: libbpf cannot load an
 * object a second time after a failed load.
 */
#define LOAD_TRIES 10

static bool load_interrupted(int e)
{
	return e == -EAGAIN || e == -EINTR;
}

/* Blocks every signal but the synchronous ones for the calling thread; *old gets the mask to restore. */
static void block_async_signals(sigset_t *old)
{
	const int synchronous[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS };
	sigset_t all;

	sigfillset(&all);
	for (size_t i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++)
		sigdelset(&all, synchronous[i]);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

/* The error of a load that signals interrupted on every try: not a rejection, so no verifier log. */
static int fail_interrupted(char *err, int e, int tries, const char *what)
{
	return fail(err, e, "cannot load %s: a signal interrupted the kernel on each of %d tries (%s); "
		    "nothing was rejected, try again",
		    what, tries, strerror(-e));
}

/* open → size the maps → load: the maps' sizes are fixed at load. */
static int open_sized(struct fl_loader *l, uint32_t capture_ring_bytes, long page, char *err)
{
	const struct fl_roles *roles = &l->roles;

	int e;

	l->skel = flow_bpf__open();
	if (!l->skel) {
		e = -errno;
		return fail(err, e, "cannot open the BPF object: %s\n%s", strerror(-e), log_tail(2000));
	}
	/* at most half full, so probe runs stay short; the multiply-shift in
	 * table.bpf.h needs no power of two */
	l->table_slots = l->map_entries < 32 ? 64 : l->map_entries * 2;
	l->skel->rodata->table_slots = l->table_slots;
	l->skel->rodata->max_flows = l->map_entries;
	bpf_map__set_max_entries(l->skel->maps.flow_slots, 2 * l->table_slots);
	bpf_map__set_max_entries(l->skel->maps.claimed_slots, 2 * l->map_entries);
	/* captures off: the verifier drops their code; the ring cannot be smaller than a page */
	l->skel->rodata->capture_enabled = capture_ring_bytes != 0;
	bpf_map__set_max_entries(l->skel->maps.captures, capture_ring_bytes ? capture_ring_bytes : (uint32_t)page);
	/* packet captures off: the verifier drops their code, the staging area takes one entry */
	l->skel->rodata->pcap_enabled = l->pcap_ring_bytes != 0;
	bpf_map__set_max_entries(l->skel->maps.pcap_ring, l->pcap_ring_bytes ? l->pcap_ring_bytes : (uint32_t)page);
	bpf_map__set_max_entries(l->skel->maps.pcap_staging, l->pcap_ring_bytes ? (uint32_t)l->ncpus : 1);
	/* roles off: the verifier drops the role code, every packet costs what it did before roles */
	l->skel->rodata->roles_enabled = roles->count != 0;
	if (!roles->count) {
		/* roles off: their maps are never read, so they take one entry each */
		bpf_map__set_max_entries(l->skel->maps.own_addrs, 1);
		bpf_map__set_max_entries(l->skel->maps.own_echoes, 1);
	}
	for (uint32_t i = 0; i < roles->count && i < FLOW_ROLE_SLOTS; i++) {
		l->skel->bss->role_ifindex[i] = roles->ifindex[i];
		l->skel->rodata->role_of[i] = roles->role[i];
	}
	return 0;
}

/* Opens, sizes and loads the skeleton into l->skel, signals blocked and retried as explained above. */
static int load_sized(struct fl_loader *l, uint32_t capture_ring_bytes, long page, char *err)
{
	sigset_t old;
	int e = 0, tries = 0;

	while (tries < LOAD_TRIES) {
		tries++;
		log_len = 0;
		log_buf[0] = 0;
		e = open_sized(l, capture_ring_bytes, page, err);
		if (e)
			return e;
		block_async_signals(&old);
		e = flow_bpf__load(l->skel);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!e)
			return 0;
		flow_bpf__destroy(l->skel);
		l->skel = NULL;
		if (!load_interrupted(e))
			break;
	}
	if (load_interrupted(e))
		return fail_interrupted(err, e, tries, "the BPF programs");
	return fail(err, e, "cannot load the BPF programs (%s).\n%s",
		    e == -EPERM ? "permission denied" : strerror(-e), log_tail(3000));
}

/*
 * Maps a ring buffer for reading in place: the consumer position page
 * (read-write) and the producer page with the data after it. The kernel maps
 * the data twice in a row, so a record that wraps reads contiguously.
 */
static int map_ring(int fd, uint32_t bytes, long page, unsigned long **consumer, void **producer, size_t *producer_len)
{
	int e;

	*consumer = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	*producer_len = page + 2 * (size_t)bytes;
	*producer = mmap(NULL, *producer_len, PROT_READ, MAP_SHARED, fd, page);
	if (*consumer != MAP_FAILED && *producer != MAP_FAILED)
		return 0;
	e = -errno;
	if (*consumer == MAP_FAILED)
		*consumer = NULL;
	else
		munmap(*consumer, page);
	if (*producer == MAP_FAILED)
		*producer = NULL;
	else
		munmap(*producer, *producer_len);
	*consumer = NULL;
	*producer = NULL;
	return e;
}

/* A ring buffer record: 8-byte header, then the sample, rounded up to 8 bytes. */
#define RING_RECORD_BYTES ROUND_UP8(BPF_RINGBUF_HDR_SZ + sizeof(struct capture_record))

int fl_open(uint32_t map_entries, uint32_t capture_ring_bytes, uint32_t pcap_ring_bytes,
	    const struct fl_roles *roles, struct fl_loader **out, char *err)
{
	struct fl_loader *l;
	libbpf_print_fn_t old_print;
	long page = sysconf(_SC_PAGESIZE);
	int e;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return fail(err, ENOMEM, "out of memory");
	if (capture_ring_bytes &&
	    ((capture_ring_bytes & (capture_ring_bytes - 1)) || capture_ring_bytes < (uint32_t)page)) {
		free(l);
		return fail(err, EINVAL, "the capture ring size must be a power of two of at least %ld bytes, not %u",
			    page, capture_ring_bytes);
	}
	if (pcap_ring_bytes && ((pcap_ring_bytes & (pcap_ring_bytes - 1)) ||
				pcap_ring_bytes < 2 * (uint32_t)(sizeof(struct pcap_header) + PCAP_SNAP_MAX + BPF_RINGBUF_HDR_SZ))) {
		free(l);
		return fail(err, EINVAL, "the packet capture ring size must be a power of two of at least %zu bytes, not %u",
			    2 * (sizeof(struct pcap_header) + PCAP_SNAP_MAX + BPF_RINGBUF_HDR_SZ), pcap_ring_bytes);
	}
	if (roles && roles->count > FLOW_ROLE_SLOTS) {
		free(l);
		return fail(err, EINVAL, "at most %d interfaces can have a role, not %u", FLOW_ROLE_SLOTS, roles->count);
	}
	if (roles)
		l->roles = *roles;
	l->map_entries = map_entries;
	l->ring_bytes = capture_ring_bytes;
	l->pcap_ring_bytes = pcap_ring_bytes;
	l->capture_slots = capture_ring_bytes / RING_RECORD_BYTES;
	l->ncpus = libbpf_num_possible_cpus();
	if (l->ncpus <= 0) {
		free(l);
		return fail(err, EINVAL, "cannot count the possible CPUs");
	}

	old_print = libbpf_set_print(capture_print);
	e = load_sized(l, capture_ring_bytes, page, err);
	libbpf_set_print(old_print);
	if (e) {
		free(l);
		return e;
	}

	/* the flow table and the claimed-slot lists are read in place */
	l->slots_len = (size_t)2 * l->table_slots * sizeof(struct flow_record);
	l->slots = mmap(NULL, l->slots_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(l->skel->maps.flow_slots), 0);
	l->claimed_len = (size_t)2 * map_entries * sizeof(uint64_t);
	l->claimed_list = mmap(NULL, l->claimed_len, PROT_READ, MAP_SHARED,
			       bpf_map__fd(l->skel->maps.claimed_slots), 0);
	if (l->slots == MAP_FAILED || l->claimed_list == MAP_FAILED) {
		e = -errno;
		if (l->slots == MAP_FAILED)
			l->slots = NULL;
		if (l->claimed_list == MAP_FAILED)
			l->claimed_list = NULL;
		fl_close(l);
		return fail(err, e, "cannot map the flow table into memory: %s", strerror(-e));
	}
	if (l->ring_bytes) {
		e = map_ring(bpf_map__fd(l->skel->maps.captures), l->ring_bytes, page, &l->ring_consumer,
			     &l->ring_producer, &l->ring_producer_len);
		if (e) {
			fl_close(l);
			return fail(err, e, "cannot map the capture ring buffer into memory: %s", strerror(-e));
		}
	}
	if (l->pcap_ring_bytes) {
		e = map_ring(bpf_map__fd(l->skel->maps.pcap_ring), l->pcap_ring_bytes, page, &l->pcap_consumer,
			     &l->pcap_producer, &l->pcap_producer_len);
		if (e) {
			fl_close(l);
			return fail(err, e, "cannot map the packet capture ring buffer into memory: %s", strerror(-e));
		}
	}
	*out = l;
	return 0;
}

int fl_set_role_ifindex(struct fl_loader *l, uint32_t slot, uint32_t ifindex, char *err)
{
	if (slot >= l->roles.count)
		return fail(err, EINVAL, "no role slot %u (%u interfaces have a role)", slot, l->roles.count);
	/* the .bss map is mmapped: the programs read the new ifindex from the next packet on */
	l->skel->bss->role_ifindex[slot] = ifindex;
	l->roles.ifindex[slot] = ifindex;
	return 0;
}

int fl_set_own_addrs(struct fl_loader *l, const struct own_addr *addrs, uint32_t n, char *err)
{
	int fd = bpf_map__fd(l->skel->maps.own_addrs);
	struct own_addr cur, next;
	uint8_t one = 1;

	if (n > FLOW_OWN_ADDRS_MAX)
		return fail(err, EINVAL, "at most %d own addresses, not %u", FLOW_OWN_ADDRS_MAX, n);
	/* add the new ones first, then drop the stale ones: an address that stays is never missing */
	for (uint32_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &addrs[i], &one, BPF_ANY))
			return fail(err, errno, "cannot set an own address: %s", strerror(errno));
	for (int again = 1; again;) {
		again = 0;
		for (int has = 0; !bpf_map_get_next_key(fd, has ? &cur : NULL, &next); has = 1) {
			uint32_t i;

			cur = next;
			for (i = 0; i < n && memcmp(&addrs[i], &cur, sizeof(cur)); i++)
				;
			if (i == n) {
				bpf_map_delete_elem(fd, &cur);
				again = 1;  /* deleting while walking restarts the walk */
				break;
			}
		}
	}
	return 0;
}

uint32_t fl_map_entries(const struct fl_loader *l)
{
	return l->map_entries;
}

int fl_prog_fd(struct fl_loader *l, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(l->skel->obj, name);

	return p ? bpf_program__fd(p) : -1;
}

/* ---- attach / detach ---- */

static void prog_name(uint32_t id, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	uint32_t info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(name, len, "id %u", id);
	if (fd < 0)
		return;
	if (!bpf_prog_get_info_by_fd(fd, &info, &info_len))
		snprintf(name, len, "%s", info.name);
	close(fd);
}

static int is_flowlens(const char *name)
{
	return strncmp(name, "flowlens_", 9) == 0;
}

static const char *ifname(int ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "#%d", ifindex);
	return buf;
}

/* Refuses when another flowlens (or, for XDP, any program) already counts on the interface. */
static int check_free(int ifindex, enum fl_hook hook, char *err)
{
	char dev[IF_NAMESIZE], name[64];
	enum bpf_attach_type types[2] = { FL_TCX_INGRESS, FL_TCX_EGRESS };

	if (hook == FL_HOOK_XDP) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (!bpf_xdp_query(ifindex, 0, &q) && q.prog_id) {
			prog_name(q.prog_id, name, sizeof(name));
			if (is_flowlens(name))
				return fail(err, EEXIST,
					    "another flowlens is already attached to %s (XDP program %s, id %u). "
					    "Stop it first; `bpftool net show dev %s` lists what is attached.",
					    ifname(ifindex, dev), name, q.prog_id, dev);
			return fail(err, EBUSY,
				    "%s already has an XDP program (%s, id %u); XDP allows one. "
				    "Use --hook tc to count with TC instead.",
				    ifname(ifindex, dev), name, q.prog_id);
		}
	}
	for (int t = 0; t < 2; t++) {
		uint32_t ids[64];
		LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .count = 64);

		if (bpf_prog_query_opts(ifindex, types[t], &q))
			continue; /* no TCX on this kernel: nothing to find */
		for (uint32_t i = 0; i < q.count; i++) {
			prog_name(ids[i], name, sizeof(name));
			if (is_flowlens(name))
				return fail(err, EEXIST,
					    "another flowlens is already attached to %s (TC %s program %s, id %u). "
					    "Stop it first; `bpftool net show dev %s` lists what is attached.",
					    ifname(ifindex, dev), t ? "egress" : "ingress", name, ids[i], dev);
		}
	}
	return 0;
}

static int push_attachment(struct fl_loader *l, struct attachment a, char *err)
{
	if (l->natt >= MAX_ATTACHMENTS)
		return fail(err, ENOSPC, "too many attachments (at most %d)", MAX_ATTACHMENTS);
	l->att[l->natt++] = a;
	return 0;
}

static int attach_xdp(struct fl_loader *l, int ifindex, enum fl_xdp_mode mode,
		      struct fl_attach_info *info, char *err)
{
	int prog = bpf_program__fd(l->skel->progs.flowlens_xdp);
	char dev[IF_NAMESIZE];
	int fd = -1, e = 0;

	/* a link, not a netlink attachment: the kernel detaches it when our fd closes,
	 * even if the process is killed */
	if (mode != FL_XDP_GENERIC) {
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_DRV_MODE);
		fd = bpf_link_create(prog, ifindex, BPF_XDP, &o);
		e = fd < 0 ? -errno : 0;
		if (fd >= 0)
			snprintf(info->ingress, sizeof(info->ingress), "xdp-native");
		else if (mode == FL_XDP_NATIVE)
			return fail(err, e, "cannot attach XDP in native (driver) mode to %s: %s. "
				    "Use --xdp-mode generic, or --hook tc.", ifname(ifindex, dev), strerror(-e));
	}
	if (fd < 0) {
		LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_SKB_MODE);
		fd = bpf_link_create(prog, ifindex, BPF_XDP, &o);
		if (fd < 0) {
			e = -errno;
			return fail(err, e, "cannot attach XDP to %s: %s. Try --hook tc.",
				    ifname(ifindex, dev), strerror(-e));
		}
		snprintf(info->ingress, sizeof(info->ingress), "xdp-generic");
	}
	return push_attachment(l, (struct attachment){ .ifindex = ifindex, .kind = ATT_LINK, .link_fd = fd }, err);
}

/* Legacy TC (kernels without TCX): a filter the kernel does not remove on exit. */
static int attach_legacy_tc(struct fl_loader *l, int ifindex, int prog, enum bpf_tc_attach_point point,
			    char *err)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = LEGACY_TC_HANDLE, .priority = LEGACY_TC_PRIORITY);
	LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = prog, .handle = LEGACY_TC_HANDLE,
		    .priority = LEGACY_TC_PRIORITY);
	char dev[IF_NAMESIZE];
	int created, e;

	e = bpf_tc_hook_create(&hook);
	if (e && e != -EEXIST)
		return fail(err, e, "cannot create the clsact qdisc on %s: %s", ifname(ifindex, dev), strerror(-e));
	/* -EEXIST: the qdisc was there before us, so it is not ours to remove */
	created = e == 0;
	if (!bpf_tc_query(&hook, &q) && q.prog_id) {
		/* our fixed handle holds a filter: a flowlens that died left it behind */
		LIBBPF_OPTS(bpf_tc_opts, d, .handle = LEGACY_TC_HANDLE, .priority = LEGACY_TC_PRIORITY);
		bpf_tc_detach(&hook, &d);
	}
	e = bpf_tc_attach(&hook, &o);
	if (e)
		return fail(err, e, "cannot attach the TC program to %s: %s", ifname(ifindex, dev), strerror(-e));
	return push_attachment(l, (struct attachment){ .ifindex = ifindex, .kind = ATT_LEGACY_TC,
						       .point = point, .hook_created = created }, err);
}

static int attach_tc(struct fl_loader *l, int ifindex, int egress, char *label, char *err)
{
	int prog = bpf_program__fd(egress ? l->skel->progs.flowlens_tc_eg : l->skel->progs.flowlens_tc_in);
	int fd = bpf_link_create(prog, ifindex, egress ? FL_TCX_EGRESS : FL_TCX_INGRESS, NULL);
	char dev[IF_NAMESIZE];
	int e;

	if (fd >= 0) {
		snprintf(label, 16, "tcx");
		return push_attachment(l, (struct attachment){ .ifindex = ifindex, .kind = ATT_LINK, .link_fd = fd }, err);
	}
	e = -errno;
	if (e != -EINVAL && e != -EOPNOTSUPP && e != -ENOTSUP)
		return fail(err, e, "cannot attach TC %s to %s: %s", egress ? "egress" : "ingress",
			    ifname(ifindex, dev), strerror(-e));
	snprintf(label, 16, "tc");
	return attach_legacy_tc(l, ifindex, prog, egress ? BPF_TC_EGRESS : BPF_TC_INGRESS, err);
}

static void release(struct attachment *a)
{
	if (a->kind == ATT_LINK) {
		close(a->link_fd);
	} else {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex, .attach_point = a->point);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = LEGACY_TC_HANDLE, .priority = LEGACY_TC_PRIORITY);

		bpf_tc_detach(&hook, &o);
		if (a->hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
}

int fl_attach(struct fl_loader *l, int ifindex, enum fl_hook hook, enum fl_xdp_mode mode,
	      struct fl_attach_info *info, char *err)
{
	char dev[IF_NAMESIZE];
	int before = l->natt, e;

	memset(info, 0, sizeof(*info));
	for (int i = 0; i < l->natt; i++)
		if (l->att[i].ifindex == ifindex)
			return fail(err, EEXIST, "already attached to %s", ifname(ifindex, dev));
	e = check_free(ifindex, hook, err);
	if (e)
		return e;
	e = hook == FL_HOOK_XDP ? attach_xdp(l, ifindex, mode, info, err)
				: attach_tc(l, ifindex, 0, info->ingress, err);
	if (!e)
		e = attach_tc(l, ifindex, 1, info->egress, err);
	if (e) {
		/* all or nothing: undo what this call attached */
		while (l->natt > before)
			release(&l->att[--l->natt]);
	}
	return e;
}

int fl_detach(struct fl_loader *l, int ifindex, char *err)
{
	int kept = 0, found = 0;

	for (int i = 0; i < l->natt; i++) {
		if (l->att[i].ifindex == ifindex) {
			release(&l->att[i]);
			found = 1;
		} else {
			l->att[kept++] = l->att[i];
		}
	}
	l->natt = kept;
	if (!found && ifindex >= 0) {
		char dev[IF_NAMESIZE];
		return fail(err, ENOENT, "not attached to %s", ifname(ifindex, dev));
	}
	return 0;
}

/* ---- drain ---- */

size_t fl_captures_offset(const struct fl_loader *l)
{
	return FLOW_IFACE_MAX_ENTRIES * sizeof(struct iface_record) +
	       (size_t)l->map_entries * sizeof(struct flow_record);
}

uint32_t fl_capture_slots(const struct fl_loader *l)
{
	return l->capture_slots;
}

size_t fl_buffer_size(const struct fl_loader *l)
{
	return fl_captures_offset(l) + (size_t)l->capture_slots * sizeof(struct capture_record);
}

/*
 * Copies up to `max` committed records out of the captures ring buffer and
 * advances the consumer past them; later records stay for the next drain.
 * libbpf's ring_buffer__consume() (1.1) cannot stop early without losing the
 * record it stopped on, so the ring is read here with the kernel's protocol:
 * a record's header says its length, BUSY while the producer writes it,
 * DISCARD if it was given back. Positions only grow; offsets are modulo size.
 */
static uint32_t read_captures(struct fl_loader *l, struct capture_record *out, uint32_t max)
{
	const unsigned long *producer = l->ring_producer;
	const char *data = (const char *)l->ring_producer + sysconf(_SC_PAGESIZE);
	unsigned long cons, prod, mask = l->ring_bytes - 1;
	uint32_t n = 0;

	if (!l->ring_bytes)
		return 0;
	cons = __atomic_load_n(l->ring_consumer, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
	while (cons < prod && n < max) {
		const uint32_t *hdr = (const uint32_t *)(data + (cons & mask));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* still being written: next drain */
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			size_t sample = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

			memset(&out[n], 0, sizeof(out[n]));
			memcpy(&out[n], hdr + 2, sample < sizeof(out[n]) ? sample : sizeof(out[n]));
			n++;
		}
		cons += ROUND_UP8(BPF_RINGBUF_HDR_SZ + (len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)));
		__atomic_store_n(l->ring_consumer, cons, __ATOMIC_RELEASE);
	}
	return n;
}

/* Finds (or adds) the record of (ifindex, direction) among the first *n. */
static struct iface_record *iface_slot(struct iface_record *recs, int *n, uint32_t ifindex,
				       uint8_t direction)
{
	for (int i = 0; i < *n; i++)
		if (recs[i].key.ifindex == ifindex && recs[i].key.direction == direction)
			return &recs[i];
	if (*n >= FLOW_IFACE_MAX_ENTRIES)
		return NULL;
	memset(&recs[*n], 0, sizeof(recs[*n]));
	recs[*n].key.ifindex = ifindex;
	recs[*n].key.direction = direction;
	return &recs[(*n)++];
}

/* Reads and deletes the iface counters of one (quiescent) epoch into recs. */
static int drain_ifaces(struct fl_loader *l, uint8_t epoch, struct iface_record *recs, int *n,
			char *err)
{
	int fd = bpf_map__fd(l->skel->maps.iface_counters);
	const size_t stride = ROUND_UP8(sizeof(struct iface_counters));
	struct iface_key keys[FLOW_IFACE_MAX_ENTRIES], cur, next;
	char vals[stride * 512];
	int nkeys = 0, has = 0;

	if ((size_t)l->ncpus > 512)
		return fail(err, EINVAL, "more than 512 CPUs are not supported");
	/* collect first: deleting while walking with get_next_key restarts the walk */
	while (nkeys < FLOW_IFACE_MAX_ENTRIES && !bpf_map_get_next_key(fd, has ? &cur : NULL, &next)) {
		cur = next;
		has = 1;
		if (next.epoch == epoch)
			keys[nkeys++] = next;
	}
	for (int i = 0; i < nkeys; i++) {
		struct iface_record *r;

		if (bpf_map_lookup_elem(fd, &keys[i], vals))
			continue;
		bpf_map_delete_elem(fd, &keys[i]);
		r = iface_slot(recs, n, keys[i].ifindex, keys[i].direction);
		if (!r)
			continue;
		for (int c = 0; c < l->ncpus; c++) {
			const struct iface_counters *v = (const void *)(vals + c * stride);

			r->counters.ip_packets += v->overflow_packets;
			r->counters.ip_bytes += v->overflow_bytes;
			r->counters.overflow_packets += v->overflow_packets;
			r->counters.overflow_bytes += v->overflow_bytes;
			r->counters.non_ip_packets += v->non_ip_packets;
			r->counters.non_ip_bytes += v->non_ip_bytes;
			r->counters.malformed_packets += v->malformed_packets;
			r->counters.malformed_bytes += v->malformed_bytes;
			r->counters.forwarded_packets += v->forwarded_packets;
			r->counters.forwarded_bytes += v->forwarded_bytes;
			r->counters.gso_added_packets += v->gso_added_packets;
			r->counters.gso_added_bytes += v->gso_added_bytes;
		}
	}
	return 0;
}

static int compare_keys(const void *a, const void *b)
{
	return memcmp(&((const struct flow_record *)a)->key, &((const struct flow_record *)b)->key,
		      sizeof(struct flow_key));
}

/*
 * Merges records with equal keys (sorted first). Only needed after a claim race:
 * two CPUs inserted the same new flow at the same instant into two slots.
 */
static uint32_t merge_duplicates(struct flow_record *recs, uint32_t n)
{
	uint32_t out = 0;

	if (n == 0)
		return 0;
	qsort(recs, n, sizeof(*recs), compare_keys);
	for (uint32_t i = 1; i < n; i++) {
		struct flow_counters *a = &recs[out].counters;
		const struct flow_counters *b = &recs[i].counters;

		if (memcmp(&recs[out].key, &recs[i].key, sizeof(struct flow_key))) {
			recs[++out] = recs[i];
			continue;
		}
		a->packets += b->packets;
		a->bytes += b->bytes;
		if (b->first_seen_ns < a->first_seen_ns)
			a->first_seen_ns = b->first_seen_ns;
		if (b->last_seen_ns > a->last_seen_ns)
			a->last_seen_ns = b->last_seen_ns;
		a->tcp_flags |= b->tcp_flags;
	}
	return out + 1;
}

static uint64_t read_error(struct fl_loader *l, uint32_t which)
{
	uint64_t all[FLOW_ERR__COUNT];
	char ignored[FL_ERR_LEN];

	return fl_read_errors(l, all, ignored) ? 0 : all[which];
}

int fl_drain(struct fl_loader *l, void *buf, size_t len, struct fl_drain_result *res, char *err)
{
	struct iface_record *ifaces = buf;
	struct flow_record *flows =
		(struct flow_record *)((char *)buf + FLOW_IFACE_MAX_ENTRIES * sizeof(struct iface_record));
	int grace = bpf_map__fd(l->skel->maps.grace_barrier);
	int inner = bpf_map__fd(l->skel->maps.grace_inner);
	const uint64_t *list;
	uint64_t t0 = mono_ns(), claimed, races;
	uint32_t old, zero = 0, n, nflows = 0;
	int nifaces = 0, e;

	memset(res, 0, sizeof(*res));
	if (len < fl_buffer_size(l))
		return fail(err, EINVAL, "drain buffer too small: %zu bytes, need %zu", len, fl_buffer_size(l));

	/* 1. new packets go to the other epoch's region from now on */
	old = l->skel->bss->drain_epoch & 1;
	__atomic_store_n(&l->skel->bss->drain_epoch, old ^ 1, __ATOMIC_SEQ_CST);
	res->mono_ns = mono_ns();
	/* 2. updating a map-in-map returns only after an RCU grace period: every
	 *    program that read the old epoch has finished counting */
	if (bpf_map_update_elem(grace, &zero, &inner, BPF_ANY))
		return fail(err, errno, "cannot wait for the BPF programs (grace period): %s", strerror(errno));
	res->grace_ns = mono_ns() - t0;

	/* 3. the old region is quiescent: copy its claimed slots, mark them empty */
	claimed = __atomic_load_n(&l->skel->bss->claimed[old], __ATOMIC_ACQUIRE);
	n = claimed < l->map_entries ? (uint32_t)claimed : l->map_entries;
	list = l->claimed_list + (size_t)old * l->map_entries;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t index = (uint32_t)list[i];
		struct flow_record *slot;

		/* the slots are scattered over the table (a hash): ask for the one a few
		 * claims ahead now, so the copy does not wait for memory every record */
		if (i + DRAIN_PREFETCH < n && (uint32_t)list[i + DRAIN_PREFETCH] < 2 * l->table_slots) {
			const char *ahead = (const char *)&l->slots[(uint32_t)list[i + DRAIN_PREFETCH]];

			__builtin_prefetch(ahead, 1);
			__builtin_prefetch(ahead + 64, 1);
		}
		if (index >= 2 * l->table_slots)
			continue;
		slot = &l->slots[index];
		if (slot->counters.slot_state != FLOW_SLOT_READY)
			continue;
		flows[nflows] = *slot;
		flows[nflows].counters.flow_id = FLOW_ID_NONE; /* the addon assigns ids (flow_ids.h) */
		/* last seen is a coarse clock reading (table.bpf.h): never before first seen */
		if (flows[nflows].counters.last_seen_ns < flows[nflows].counters.first_seen_ns)
			flows[nflows].counters.last_seen_ns = flows[nflows].counters.first_seen_ns;
		nflows++;
		slot->counters.slot_state = FLOW_SLOT_EMPTY;
	}
	__atomic_store_n(&l->skel->bss->claimed[old], 0, __ATOMIC_RELEASE);
	races = read_error(l, FLOW_ERR_CLAIM_RACE);
	if (races != l->claim_races) {
		l->claim_races = races;
		nflows = merge_duplicates(flows, nflows);
	}

	/* 4. per interface and direction totals: flows, then overflow, non-IP, malformed */
	for (uint32_t i = 0; i < nflows; i++) {
		struct iface_record *r = iface_slot(ifaces, &nifaces, flows[i].key.ifindex, flows[i].key.direction);

		if (!r)
			continue;
		r->counters.flows++;
		r->counters.ip_packets += flows[i].counters.packets;
		r->counters.ip_bytes += flows[i].counters.bytes;
	}
	e = drain_ifaces(l, (uint8_t)old, ifaces, &nifaces, err);
	if (e)
		return e;
	/* 5. the captures the ring holds (not tied to the epoch: some may be from after the flip) */
	res->captures = read_captures(l, (struct capture_record *)((char *)buf + fl_captures_offset(l)),
				      l->capture_slots);
	res->ifaces = nifaces;
	res->flows = nflows;
	res->drain_ns = mono_ns() - t0;
	return 0;
}

/* ---- packet captures ---- */

/* Returns only after an RCU grace period: every program that ran before has finished. */
static int wait_for_programs(struct fl_loader *l, char *err)
{
	int grace = bpf_map__fd(l->skel->maps.grace_barrier);
	int inner = bpf_map__fd(l->skel->maps.grace_inner);
	uint32_t zero = 0;

	if (bpf_map_update_elem(grace, &zero, &inner, BPF_ANY))
		return fail(err, errno, "cannot wait for the BPF programs (grace period): %s", strerror(errno));
	return 0;
}

int fl_pcap_start(struct fl_loader *l, uint32_t slot, const struct pcap_filter *f, char *err)
{
	int fd;
	uint32_t key = slot;
	struct pcap_counters *zero;

	if (!l->pcap_ring_bytes)
		return fail(err, EOPNOTSUPP, "packet captures are off (the packet capture ring size is 0)");
	if (slot >= PCAP_SLOTS)
		return fail(err, EINVAL, "no capture slot %u (there are %d)", slot, PCAP_SLOTS);
	if (__atomic_load_n(&l->skel->bss->pcap_active, __ATOMIC_ACQUIRE) & (1u << slot))
		return fail(err, EBUSY, "capture slot %u is in use", slot);
	if (f->snaplen < 1 || f->snaplen > PCAP_SNAP_MAX)
		return fail(err, EINVAL, "the snap length must be from 1 to %d, not %u", PCAP_SNAP_MAX, f->snaplen);
	/* the slot is idle (its bit is clear, and was cleared a grace period ago): no program reads it */
	fd = bpf_map__fd(l->skel->maps.pcap_counters);
	zero = calloc(l->ncpus, sizeof(*zero));
	if (!zero)
		return fail(err, ENOMEM, "out of memory");
	if (bpf_map_update_elem(fd, &key, zero, BPF_ANY)) {
		int e = errno;

		free(zero);
		return fail(err, e, "cannot reset the capture's counters: %s", strerror(e));
	}
	free(zero);
	memcpy(&l->skel->bss->pcap_filters[slot], f, sizeof(*f));
	/* the filter is whole before the bit says so (a full barrier) */
	__atomic_fetch_or(&l->skel->bss->pcap_active, 1u << slot, __ATOMIC_SEQ_CST);
	return 0;
}

int fl_pcap_stop(struct fl_loader *l, uint32_t slot, char *err)
{
	if (slot >= PCAP_SLOTS)
		return fail(err, EINVAL, "no capture slot %u (there are %d)", slot, PCAP_SLOTS);
	if (!l->pcap_ring_bytes)
		return 0;
	__atomic_fetch_and(&l->skel->bss->pcap_active, ~(1u << slot), __ATOMIC_SEQ_CST);
	/* after the grace period no program copies for this slot any more: what it
	 * copied is in the ring, and the slot may be written again */
	return wait_for_programs(l, err);
}

int fl_pcap_counters(struct fl_loader *l, uint32_t slot, struct pcap_counters *out, char *err)
{
	int fd = bpf_map__fd(l->skel->maps.pcap_counters);
	struct pcap_counters *v;
	uint32_t key = slot;

	memset(out, 0, sizeof(*out));
	if (slot >= PCAP_SLOTS)
		return fail(err, EINVAL, "no capture slot %u (there are %d)", slot, PCAP_SLOTS);
	v = calloc(l->ncpus, sizeof(*v));
	if (!v)
		return fail(err, ENOMEM, "out of memory");
	if (bpf_map_lookup_elem(fd, &key, v)) {
		int e = errno;

		free(v);
		return fail(err, e, "cannot read the capture's counters: %s", strerror(e));
	}
	for (int c = 0; c < l->ncpus; c++) {
		out->matched += v[c].matched;
		out->dropped += v[c].dropped;
	}
	free(v);
	return 0;
}

/*
 * Copies whole committed records (struct pcap_header + frame) out of pcap_ring
 * into buf, each padded to 8 bytes, until the ring is empty or the next one
 * does not fit; it stays for the next call. The ring protocol is the one
 * read_captures() follows.
 */
int fl_pcap_read(struct fl_loader *l, void *buf, size_t len, uint32_t *records, size_t *used, char *err)
{
	const unsigned long *producer = l->pcap_producer;
	const char *data;
	unsigned long cons, prod, mask;
	size_t at = 0;
	uint32_t n = 0;

	*records = 0;
	*used = 0;
	if (!l->pcap_ring_bytes)
		return fail(err, EOPNOTSUPP, "packet captures are off (the packet capture ring size is 0)");
	data = (const char *)l->pcap_producer + sysconf(_SC_PAGESIZE);
	mask = l->pcap_ring_bytes - 1;
	cons = __atomic_load_n(l->pcap_consumer, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
	while (cons < prod) {
		const uint32_t *hdr = (const uint32_t *)(data + (cons & mask));
		uint32_t rlen = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		size_t sample = rlen & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (rlen & BPF_RINGBUF_BUSY_BIT)
			break; /* still being written: next call */
		if (!(rlen & BPF_RINGBUF_DISCARD_BIT)) {
			if (at + ROUND_UP8(sample) > len)
				break;
			memcpy((char *)buf + at, hdr + 2, sample);
			at += ROUND_UP8(sample);
			n++;
		}
		cons += ROUND_UP8(BPF_RINGBUF_HDR_SZ + sample);
		__atomic_store_n(l->pcap_consumer, cons, __ATOMIC_RELEASE);
	}
	*records = n;
	*used = at;
	return 0;
}

int fl_read_capture_errors(struct fl_loader *l, uint64_t out[CAPTURE_ERR__COUNT], char *err)
{
	int fd = bpf_map__fd(l->skel->maps.capture_errors);
	uint64_t vals[512];

	if (l->ncpus > 512)
		return fail(err, EINVAL, "more than 512 CPUs are not supported");
	for (uint32_t k = 0; k < CAPTURE_ERR__COUNT; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals))
			return fail(err, errno, "cannot read capture_errors: %s", strerror(errno));
		for (int c = 0; c < l->ncpus; c++)
			out[k] += vals[c];
	}
	return 0;
}

int fl_read_errors(struct fl_loader *l, uint64_t out[FLOW_ERR__COUNT], char *err)
{
	int fd = bpf_map__fd(l->skel->maps.bpf_errors);
	uint64_t vals[512];

	if (l->ncpus > 512)
		return fail(err, EINVAL, "more than 512 CPUs are not supported");
	for (uint32_t k = 0; k < FLOW_ERR__COUNT; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals))
			return fail(err, errno, "cannot read bpf_errors: %s", strerror(errno));
		for (int c = 0; c < l->ncpus; c++)
			out[k] += vals[c];
	}
	return 0;
}

/* ---- test run ---- */

int fl_test_run(int prog_fd, const void *data, uint32_t len, int repeat, uint32_t gso_segs,
		uint32_t gso_size, uint32_t *retval, uint32_t *duration_ns, char *err)
{
	struct __sk_buff ctx = { .gso_segs = gso_segs, .gso_size = gso_size };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = len, .repeat = repeat);
	int e;

	if (gso_segs || gso_size) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	e = bpf_prog_test_run_opts(prog_fd, &o);
	if (e)
		return fail(err, e, "BPF_PROG_TEST_RUN failed: %s", strerror(-e));
	*retval = o.retval;
	*duration_ns = o.duration;
	return 0;
}

int fl_run_frames(const int *prog_fds, uint32_t nprogs, const uint8_t *buf, size_t len, uint32_t count, uint64_t last_mark_ns,
		  uint64_t step_ns, struct fl_time_mark *marks, uint32_t max_marks,
		  struct fl_frames_result *res, char *err)
{
	uint64_t t0 = mono_ns();
	bool first = last_mark_ns == 0;
	size_t off = 0;

	memset(res, 0, sizeof(*res));
	for (uint32_t i = 0; i < count; i++) {
		const struct fl_frame *f = (const struct fl_frame *)(buf + off);
		LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
		int e;

		if (off + sizeof(*f) > len || off + sizeof(*f) + f->len > len)
			return fail(err, EINVAL, "frame %u runs past the end of the buffer", i);
		if (f->prog >= nprogs)
			return fail(err, EINVAL, "frame %u names program %u of %u", i, f->prog, nprogs);
		o.data_in = f + 1;
		o.data_size_in = f->len;
		if (res->marks < max_marks && (first || f->time_ns >= last_mark_ns + step_ns)) {
			marks[res->marks].mono_ns = mono_ns();
			marks[res->marks].time_ns = f->time_ns;
			res->marks++;
			last_mark_ns = f->time_ns;
			first = false;
		}
		e = bpf_prog_test_run_opts(prog_fds[f->prog], &o);
		if (e == -EINVAL && f->prog) {
			res->fallbacks++;
			e = bpf_prog_test_run_opts(prog_fds[0], &o);
		}
		if (e == -EINVAL) {
			res->refused++;
			res->refused_bytes += f->len;
		} else if (e) {
			return fail(err, e, "BPF_PROG_TEST_RUN failed on frame %u: %s", i, strerror(-e));
		} else {
			res->ran++;
		}
		off += sizeof(*f) + ((f->len + 7u) & ~7u);
	}
	res->last_mark_ns = last_mark_ns;
	res->run_ns = mono_ns() - t0;
	return 0;
}

/* ---- close ---- */

void fl_close(struct fl_loader *l)
{
	if (!l)
		return;
	/* reverse order of creation: attachments, then programs and maps */
	while (l->natt > 0)
		release(&l->att[--l->natt]);
	if (l->slots)
		munmap(l->slots, l->slots_len);
	if (l->claimed_list)
		munmap(l->claimed_list, l->claimed_len);
	if (l->ring_consumer)
		munmap(l->ring_consumer, sysconf(_SC_PAGESIZE));
	if (l->ring_producer)
		munmap(l->ring_producer, l->ring_producer_len);
	if (l->pcap_consumer)
		munmap(l->pcap_consumer, sysconf(_SC_PAGESIZE));
	if (l->pcap_producer)
		munmap(l->pcap_producer, l->pcap_producer_len);
	flow_bpf__destroy(l->skel);
	free(l);
}

/* ---- plain objects (benchmarks only) ---- */

#ifdef FLOWLENS_BENCH
int fl_object_open(const char *path, struct fl_object **out, char *err)
{
	struct fl_object *o = calloc(1, sizeof(*o));
	libbpf_print_fn_t old_print;
	sigset_t old;
	int e = 0, tries = 0;

	*out = NULL;
	if (!o)
		return fail(err, ENOMEM, "out of memory");
	old_print = libbpf_set_print(capture_print);
	/* signals blocked and an interrupted load retried from a fresh open, as for the skeleton */
	while (tries < LOAD_TRIES) {
		tries++;
		log_len = 0;
		log_buf[0] = 0;
		o->obj = bpf_object__open_file(path, NULL);
		if (!o->obj) {
			e = -errno;
			libbpf_set_print(old_print);
			free(o);
			return fail(err, e, "cannot open %s: %s", path, strerror(-e));
		}
		block_async_signals(&old);
		e = bpf_object__load(o->obj);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!e)
			break;
		bpf_object__close(o->obj);
		o->obj = NULL;
		if (!load_interrupted(e))
			break;
	}
	libbpf_set_print(old_print);
	if (e) {
		if (load_interrupted(e))
			fail_interrupted(err, e, tries, path);
		else
			fail(err, e, "cannot load %s: %s\n%s", path, strerror(-e), log_tail(3000));
		free(o);
		return e;
	}
	*out = o;
	return 0;
}

int fl_object_prog_fd(struct fl_object *o, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(o->obj, name);

	return p ? bpf_program__fd(p) : -1;
}

int fl_object_batch_drain(struct fl_object *o, const char *name, uint32_t *entries, uint64_t *ns, char *err)
{
	struct bpf_map *m = bpf_object__find_map_by_name(o->obj, name);
	const uint32_t batch = 16384;
	uint32_t in_batch = 0, out_batch = 0, total = 0;
	size_t vsize;
	void *keys, *vals;
	uint64_t t0;
	int first = 1, e = 0;

	if (!m)
		return fail(err, ENOENT, "no map named '%s'", name);
	vsize = ROUND_UP8(bpf_map__value_size(m));
	if (bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_HASH || bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_ARRAY)
		vsize *= libbpf_num_possible_cpus();
	keys = malloc((size_t)batch * bpf_map__key_size(m));
	vals = malloc((size_t)batch * vsize);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return fail(err, ENOMEM, "out of memory");
	}
	t0 = mono_ns();
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t count = batch;

		e = bpf_map_lookup_and_delete_batch(bpf_map__fd(m), first ? NULL : &in_batch, &out_batch, keys,
						    vals, &count, &opts);
		total += count;
		if (e)
			break;
		in_batch = out_batch;
		first = 0;
	}
	*ns = mono_ns() - t0;
	*entries = total;
	free(keys);
	free(vals);
	if (e && e != -ENOENT)
		return fail(err, e, "BPF_MAP_LOOKUP_AND_DELETE_BATCH failed: %s", strerror(-e));
	return 0;
}

void fl_object_close(struct fl_object *o)
{
	if (!o)
		return;
	bpf_object__close(o->obj);
	free(o);
}
#endif

/* ---- probes ---- */

int fl_xdp_support(int ifindex, struct fl_xdp_support *out)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int e = bpf_xdp_query(ifindex, 0, &q);

	memset(out, 0, sizeof(*out));
	if (e)
		return e;
	out->native = (q.feature_flags & XDP_FEATURE_BASIC) != 0;
	out->prog_id = q.prog_id;
	return 0;
}

const char *fl_libbpf_version(void)
{
	static char v[32];

	snprintf(v, sizeof(v), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	return v;
}
