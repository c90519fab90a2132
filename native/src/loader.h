/* SPDX-License-Identifier: MIT */
/*
 * loader.h — the libbpf side of flowlens, in plain C: load the flow counter,
 * attach it to interfaces, drain its tables, read its counters, close it.
 * The N-API glue (addon.cc) only converts arguments and results.
 *
 * Every function that can fail returns 0 or a negative errno and writes a
 * human-readable message into the caller's `err` buffer.
 */
#ifndef FLOWLENS_LOADER_H
#define FLOWLENS_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "../../bpf/flow.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_ERR_LEN 4096

enum fl_hook { FL_HOOK_XDP = 0, FL_HOOK_TC = 1 };
enum fl_xdp_mode { FL_XDP_AUTO = 0, FL_XDP_NATIVE = 1, FL_XDP_GENERIC = 2 };

/* How the programs ended up attached on one interface. */
struct fl_attach_info {
	char ingress[16];  /* "xdp-native", "xdp-generic", "tcx" or "tc" */
	char egress[16];   /* "tcx" or "tc" */
};

struct fl_drain_result {
	uint32_t ifaces;     /* iface_record entries at the start of the buffer */
	uint32_t flows;      /* flow_record entries from FLOW_IFACE_MAX_ENTRIES iface records on */
	uint32_t captures;   /* capture_record entries from fl_captures_offset() on */
	uint64_t grace_ns;   /* flip + RCU grace period */
	uint64_t drain_ns;   /* whole drain */
	uint64_t mono_ns;    /* CLOCK_MONOTONIC when the epoch flipped (the interval's end) */
};

struct fl_loader;

/* Gateway roles (enum flow_role) of up to FLOW_ROLE_SLOTS interfaces; count 0: roles off. */
struct fl_roles {
	uint32_t count;
	uint32_t ifindex[FLOW_ROLE_SLOTS];
	uint8_t role[FLOW_ROLE_SLOTS];
};

/*
 * Opens, sizes and loads the flow counter through the verifier. map_entries:
 * flows per interval. capture_ring_bytes: size of the captures ring buffer (a
 * power of two of at least a page), or 0 to load without captures.
 * pcap_ring_bytes: size of the packet capture ring (a power of two that holds
 * two of the largest records), or 0 to load without packet captures. roles: the
 * interfaces' gateway roles, or NULL (or count 0) for none: the role code is
 * then left out by the verifier.
 */
int fl_open(uint32_t map_entries, uint32_t capture_ring_bytes, uint32_t pcap_ring_bytes,
	    const struct fl_roles *roles, struct fl_loader **out, char *err);
/* The interface in role slot `slot` (the order given at open) has a new ifindex (re-created). */
int fl_set_role_ifindex(struct fl_loader *l, uint32_t slot, uint32_t ifindex, char *err);
/* Replaces the own_addrs map (the gateway's own addresses) with n addresses. */
int fl_set_own_addrs(struct fl_loader *l, const struct own_addr *addrs, uint32_t n, char *err);
/* Attaches ingress (XDP or TC) and egress (TC) counting on one interface. */
int fl_attach(struct fl_loader *l, int ifindex, enum fl_hook hook, enum fl_xdp_mode mode,
	      struct fl_attach_info *info, char *err);
/* Detaches everything this loader attached to one interface. */
int fl_detach(struct fl_loader *l, int ifindex, char *err);
/*
 * Bytes drain() needs: a region of FLOW_IFACE_MAX_ENTRIES iface records, then
 * max flows, then as many capture records as the ring buffer can hold.
 */
size_t fl_buffer_size(const struct fl_loader *l);
/* Byte offset of the capture records in drain()'s buffer. */
size_t fl_captures_offset(const struct fl_loader *l);
/* Capture records one drain returns at most. */
uint32_t fl_capture_slots(const struct fl_loader *l);
/*
 * Ends the current interval and writes its counts into buf: iface_records (the
 * interval's totals per interface and direction) at the start, flow_records from
 * offset FLOW_IFACE_MAX_ENTRIES * sizeof(struct iface_record), and the captures
 * waiting in the ring buffer from fl_captures_offset() on (at most
 * fl_capture_slots(); any more stay in the ring for the next drain). Not
 * thread-safe against itself; the caller serialises drains.
 */
int fl_drain(struct fl_loader *l, void *buf, size_t len, struct fl_drain_result *res, char *err);
/*
 * Packet captures. fl_pcap_start writes a filter into an idle slot (its
 * counters reset) and turns it on; fl_pcap_stop turns it off and returns after
 * an RCU grace period, when every frame it matched is in the ring. fl_pcap_read
 * copies whole records (struct pcap_header + frame, each padded to 8 bytes)
 * into buf; fl_pcap_counters sums a slot's counters over CPUs.
 */
int fl_pcap_start(struct fl_loader *l, uint32_t slot, const struct pcap_filter *f, char *err);
int fl_pcap_stop(struct fl_loader *l, uint32_t slot, char *err);
int fl_pcap_read(struct fl_loader *l, void *buf, size_t len, uint32_t *records, size_t *used, char *err);
int fl_pcap_counters(struct fl_loader *l, uint32_t slot, struct pcap_counters *out, char *err);
/* Cumulative capture_errors (captures lost), summed over CPUs. */
int fl_read_capture_errors(struct fl_loader *l, uint64_t out[CAPTURE_ERR__COUNT], char *err);
/* Cumulative bpf_errors, summed over CPUs. */
int fl_read_errors(struct fl_loader *l, uint64_t out[FLOW_ERR__COUNT], char *err);
/* Runs one program over one packet through BPF_PROG_TEST_RUN (tests, benchmarks). */
int fl_test_run(int prog_fd, const void *data, uint32_t len, int repeat, uint32_t gso_segs,
		uint32_t gso_size, uint32_t *retval, uint32_t *duration_ns, char *err);
/*
 * A buffer of frames for fl_run_frames (flowlens analyze): each frame is a
 * struct fl_frame followed by `len` bytes, padded to a multiple of 8.
 */
struct fl_frame {
	uint64_t time_ns;  /* the frame's time, ns after the caller's origin */
	uint32_t len;      /* bytes that follow */
	uint32_t prog;     /* index into fl_run_frames()'s programs */
};

/*
 * A time mark: CLOCK_MONOTONIC just before a frame ran, and that frame's time.
 * The program stamps flows with bpf_ktime_get_ns; the marks map those stamps
 * back to the frames' own times.
 */
struct fl_time_mark {
	uint64_t mono_ns;
	uint64_t time_ns;
};

struct fl_frames_result {
	uint32_t ran;            /* frames the program ran on */
	uint32_t refused;        /* frames BPF_PROG_TEST_RUN refused (EINVAL: too short or too long) */
	uint32_t fallbacks;      /* frames another program refused that ran through programs[0] instead */
	uint64_t refused_bytes;
	uint32_t marks;          /* marks written */
	uint64_t last_mark_ns;   /* time_ns of the latest mark (for the next call) */
	uint64_t run_ns;         /* wall time of the whole batch */
};

/*
 * Runs each of `count` frames of `buf` once, in order, through the program its
 * header names (one BPF_PROG_TEST_RUN each, repeat 1, no data copied back); a
 * frame another program refuses (an skb wants whole IP headers) runs through
 * prog_fds[0] instead. A mark is written
 * when a frame's time is at least step_ns after last_mark_ns (the previous
 * call's result; 0 at first, which marks the first frame), at most max_marks.
 */
int fl_run_frames(const int *prog_fds, uint32_t nprogs, const uint8_t *buf, size_t len, uint32_t count, uint64_t last_mark_ns,
		  uint64_t step_ns, struct fl_time_mark *marks, uint32_t max_marks,
		  struct fl_frames_result *res, char *err);
/* The fd of one of the loader's programs by name, or -1. */
int fl_prog_fd(struct fl_loader *l, const char *name);
/* Entries the flow tables were sized to. */
uint32_t fl_map_entries(const struct fl_loader *l);
/* Detaches everything and frees the loader. Safe to call with NULL. */
void fl_close(struct fl_loader *l);

#ifdef FLOWLENS_BENCH
/*
 * A BPF object file loaded as is (benchmarks' yardsticks). Only in the bench
 * addon (flowlens_bench.node, built with FLOWLENS_BENCH): the shipped addon
 * has the product's calls only.
 */
struct fl_object;
int fl_object_open(const char *path, struct fl_object **out, char *err);
int fl_object_prog_fd(struct fl_object *o, const char *name);
/* Empties one of its maps with BPF_MAP_LOOKUP_AND_DELETE_BATCH: the kernel's floor for draining a hash. */
int fl_object_batch_drain(struct fl_object *o, const char *map, uint32_t *entries, uint64_t *ns, char *err);
void fl_object_close(struct fl_object *o);
#endif

/* What `flowlens check` and `flowlens interfaces` report. */
struct fl_xdp_support {
	int native;       /* the driver implements XDP (NETDEV_XDP_ACT_BASIC) */
	uint32_t prog_id; /* an XDP program already attached (0: none) */
};
int fl_xdp_support(int ifindex, struct fl_xdp_support *out);
/* libbpf's runtime version, "major.minor". */
const char *fl_libbpf_version(void);

#ifdef __cplusplus
}
#endif
#endif
