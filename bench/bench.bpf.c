// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * bench.bpf.c — the yardsticks flowlens's programs are measured against:
 * an empty program, and a plain per-CPU-hash counter that does nothing but one
 * lookup (insert on miss) and an add, keyed by the same 48-byte flow_key filled
 * from fixed IPv4 offsets without any parsing.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "flow.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, struct flow_key);
	__type(value, struct flow_counters);
} plain_counts SEC(".maps");

static __always_inline void plain_count(void *data, void *data_end, __u32 len)
{
	struct flow_key key = {};
	struct flow_counters *v;

	if (data + 14 + 24 > data_end)
		return;
	__builtin_memcpy(key.src_addr, data + 26, 4);
	__builtin_memcpy(key.dst_addr, data + 30, 4);
	__builtin_memcpy(&key.src_port, data + 34, 2);
	__builtin_memcpy(&key.dst_port, data + 36, 2);
	v = bpf_map_lookup_elem(&plain_counts, &key);
	if (v) {
		v->packets += 1;
		v->bytes += len;
	} else {
		struct flow_counters init = { .packets = 1, .bytes = len };

		bpf_map_update_elem(&plain_counts, &key, &init, BPF_NOEXIST);
	}
}

SEC("xdp")
int bench_xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int bench_tc_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int bench_xdp_plain(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	plain_count(data, end, end - data);
	return XDP_PASS;
}

SEC("tc")
int bench_tc_plain(struct __sk_buff *skb)
{
	plain_count((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
