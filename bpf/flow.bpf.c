// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * flow.bpf.c — flowlens's packet counter. The only compilation unit in bpf/.
 *
 * Logic:
 *  1. Parse Ethernet, up to two VLAN tags, IPv4/IPv6 (with extension headers)
 *     and the transport header into a flow key (parse.bpf.h).
 *  2. Aggregate per key in the drain_epoch region of the flow table (an
 *     open-addressing hash in an mmapped array, table.bpf.h): packets, L3
 *     bytes, first/last seen, OR of TCP flags. GSO/GRO super-packets count as
 *     the wire packets they stand for.
 *  3. User space drains by flipping drain_epoch and waiting for an RCU grace
 *     period, then reads the region no program writes to any more (maps.bpf.h).
 *  4. Overflow: when max_flows flows are in the table the packet is counted in
 *     iface_counters (per interface, direction and epoch) instead, so totals stay
 *     exact. Non-IP and malformed frames are counted there too.
 *  5. Gateway roles (gateway.bpf.h): a forwarded packet is counted on the LAN
 *     interface only; the others count it in iface_counters.forwarded_*.
 *  6. Captures: a DNS answer (UDP/TCP from port 53), a TLS ClientHello (TCP to
 *     port 443), a DHCP client message (UDP to 67) or an mDNS or LLMNR answer
 *     (UDP from 5353 or 5355) is also copied, up to CAPTURE_PAYLOAD_MAX payload bytes, into
 *     the captures ring buffer, which the drain reads. Every other packet pays
 *     one port comparison for this.
 *  7. Packet captures (pcap.bpf.h): while a capture runs, a frame that matches
 *     its filter is copied whole into the pcap_ring ring buffer.
 *
 * Every program returns the pass verdict on every path: flowlens observes, it
 * never drops or redirects.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include "flow.h"
#include "maps.bpf.h"
#include "table.bpf.h"
#include "parse.bpf.h"

/* Headers of a non-linear skb are pulled into the linear area up to this many bytes. */
#define TC_PULL_BYTES 512

static __always_inline void count_error(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&bpf_errors, &which);

	if (n)
		*n += 1;
}

enum iface_slot { SLOT_OVERFLOW, SLOT_NON_IP, SLOT_MALFORMED, SLOT_FORWARDED, SLOT_GSO_ADDED };

/* Rare path: overflow, non-IP, malformed, forwarded packets and GSO super-packets, per interface and direction. */
static __always_inline void count_iface(__u32 ifindex, __u8 direction, __u32 epoch,
					enum iface_slot slot, __u64 packets, __u64 bytes)
{
	struct iface_key key = { .ifindex = ifindex, .direction = direction, .epoch = epoch };
	struct iface_counters *c = bpf_map_lookup_elem(&iface_counters, &key);

	if (!c) {
		struct iface_counters zero = {};

		bpf_map_update_elem(&iface_counters, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&iface_counters, &key);
		if (!c) {
			count_error(FLOW_ERR_IFACE_FULL);
			return;
		}
	}
	if (slot == SLOT_OVERFLOW) {
		c->overflow_packets += packets;
		c->overflow_bytes += bytes;
	} else if (slot == SLOT_FORWARDED) {
		c->forwarded_packets += packets;
		c->forwarded_bytes += bytes;
	} else if (slot == SLOT_GSO_ADDED) {
		c->gso_added_packets += packets;
		c->gso_added_bytes += bytes;
	} else if (slot == SLOT_NON_IP) {
		c->non_ip_packets += packets;
		c->non_ip_bytes += bytes;
	} else {
		c->malformed_packets += packets;
		c->malformed_bytes += bytes;
	}
}

static __always_inline void count_capture_error(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&capture_errors, &which);

	if (n)
		*n += 1;
}

/*
 * The only test every packet pays for captures: port comparisons (most fail
 * the first ones). DHCP to port 67, mDNS from port 5353 and LLMNR from port
 * 5355 name the LAN's devices (src/enrich/devices.ts); 5353 and 5355 differ
 * only in bit 1, so one comparison takes both.
 */
static __always_inline bool capture_candidate(const struct parsed *p)
{
	if (p->key.src_port == 53 || p->key.dst_port == 443)
		return p->key.protocol == IPPROTO_TCP ||
		       (p->key.protocol == IPPROTO_UDP && p->key.src_port == 53);
	return (p->key.dst_port == 67 || (p->key.src_port | 2) == 5355) && p->key.protocol == IPPROTO_UDP;
}

/* Copies `len` bytes at `off` of the packet, wherever they are (linear part or frags). */
static __always_inline long load_payload(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	return xdp ? bpf_xdp_load_bytes(ctx, off, to, len) : bpf_skb_load_bytes(ctx, off, to, len);
}

#include "gateway.bpf.h"  /* uses load_payload() */
#include "pcap.bpf.h"     /* uses load_payload() */

/* Offsets of the L4 payload are below this (CURSOR_MAX_OFF + the longest TCP header). */
#define PAYLOAD_OFF_MASK 0xfff

/*
 * Whether the payload starts a TLS handshake record (0x16 0x03 ..) holding a
 * ClientHello (type 1). Port 443 carries mostly bulk data, so this runs for
 * most of its segments: the bytes are read in place when they are in the
 * linear area (a helper call costs ~40 ns more), else with the copy helper.
 */
static __always_inline bool client_hello_start(void *ctx, bool xdp, __u32 payload_off, __u32 len)
{
	void *data = xdp ? (void *)(long)((struct xdp_md *)ctx)->data
			 : (void *)(long)((struct __sk_buff *)ctx)->data;
	void *end = xdp ? (void *)(long)((struct xdp_md *)ctx)->data_end
			: (void *)(long)((struct __sk_buff *)ctx)->data_end;
	const __u8 *b = data + (payload_off & PAYLOAD_OFF_MASK);
	__u8 hello[6];

	if (len < sizeof(hello))
		return false;
	if ((void *)(b + sizeof(hello)) > end) {
		if (load_payload(ctx, xdp, payload_off, hello, sizeof(hello)))
			return false;
		b = hello;
	}
	return b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x01;
}

/*
 * Copies a DNS answer or a TLS ClientHello into the captures ring buffer. Port
 * 443 carries bulk data too: only a segment whose payload starts a TLS
 * handshake record (0x16 0x03 ..) holding a ClientHello (type 1) is copied.
 * Only the first CAPTURE_PAYLOAD_MAX bytes of one segment are taken: a DNS
 * answer over TCP that spans segments is captured by its first segment.
 * Returns 1 if a record was submitted.
 */
static __always_inline int capture_payload(void *ctx, bool xdp, const struct flow_key *key,
					   __u32 payload_off, __u32 payload_len)
{
	struct capture_record *rec;
	__u32 len = payload_len;
	__u8 kind = CAPTURE_DNS;

	if (!key || len == 0)
		return 0;
	if (key->protocol == IPPROTO_UDP && key->dst_port == 67) {
		kind = CAPTURE_DHCP;
	} else if (key->protocol == IPPROTO_UDP && key->src_port == 5353) {
		kind = CAPTURE_MDNS;
	} else if (key->protocol == IPPROTO_UDP && key->src_port == 5355) {
		kind = CAPTURE_LLMNR;
	} else if (key->src_port != 53) {
		if (!client_hello_start(ctx, xdp, payload_off, len))
			return 0;
		kind = CAPTURE_TLS;
	}
	rec = bpf_ringbuf_reserve(&captures, sizeof(*rec), 0);
	if (!rec) {
		count_capture_error(CAPTURE_ERR_RING_FULL);
		return 0;
	}
	if (len > CAPTURE_PAYLOAD_MAX)
		len = CAPTURE_PAYLOAD_MAX;
	__builtin_memcpy(&rec->key, key, sizeof(rec->key));
	rec->time_ns = bpf_ktime_get_ns();
	rec->payload_len = payload_len;
	rec->captured_len = len;
	rec->kind = kind;
	rec->pad0 = 0;
	if (load_payload(ctx, xdp, payload_off, rec->payload, len)) {
		bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
		count_capture_error(CAPTURE_ERR_LOAD);
		return 0;
	}
	/* no wakeup: nobody sleeps on the ring, the drain polls it */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	return 1;
}

/*
 * Global (not inlined) functions are verified once, on their own: inlined, the
 * capture code would be verified again after every parse path, which exceeds
 * the verifier's budget. One per hook type, because the copy helper differs.
 */
__noinline int capture_xdp(struct xdp_md *ctx, const struct flow_key *key, __u32 payload_off,
			   __u32 payload_len)
{
	return capture_payload(ctx, true, key, payload_off, payload_len);
}

__noinline int capture_skb(struct __sk_buff *ctx, const struct flow_key *key, __u32 payload_off,
			   __u32 payload_len)
{
	return capture_payload(ctx, false, key, payload_off, payload_len);
}

static __always_inline void capture(void *ctx, bool xdp, const struct parsed *p)
{
	/*
	 * A copy of the key for the call: handing out &p->key itself would make
	 * the compiler keep all of *p in memory on the hot path too (~12 ns per
	 * packet, measured); the copy costs only packets that are captured.
	 */
	struct flow_key key;

	if (!capture_enabled)
		return;
	__builtin_memcpy(&key, &p->key, sizeof(key));
	if (xdp)
		capture_xdp(ctx, &key, p->payload_off, p->payload_len);
	else
		capture_skb(ctx, &key, p->payload_off, p->payload_len);
}

static __always_inline void count_flow(struct parsed *p, __u32 epoch)
{
	__u32 errors = 0;
	int r = table_count(&p->key, epoch, p->packets, p->l3_bytes, p->tcp_flags, &errors);

	if (r == TABLE_FULL)
		count_iface(p->key.ifindex, p->key.direction, epoch, SLOT_OVERFLOW, p->packets, p->l3_bytes);
	if (errors & (1u << FLOW_ERR_PROBE_LIMIT))
		count_error(FLOW_ERR_PROBE_LIMIT);
	if (errors & (1u << FLOW_ERR_CLAIM_RACE))
		count_error(FLOW_ERR_CLAIM_RACE);
}

/*
 * Parses and counts one frame; returns the parse result so TC can pull and retry.
 * ctx is the program's context (xdp: an xdp_md, else an __sk_buff), for copying captures.
 */
static __always_inline int count_packet(void *ctx, bool xdp, const struct packet *pkt, __u32 ifindex,
					__u8 direction, bool final)
{
	struct parsed p;
	__u32 epoch;
	int r;

	__builtin_memset(&p, 0, sizeof(p));  /* padding must not split flows */
	r = parse_packet(pkt, &p);
	if (r == PARSE_TRUNCATED && !final)
		return r;
	epoch = drain_epoch & 1;
	if (r == PARSE_FLOW) {
		p.key.ifindex = ifindex;
		p.key.direction = direction;
		/*
		 * One lookup per super-packet (tens of wire packets), none for others:
		 * what the interface's own counters see as one packet, for reconciliation.
		 */
		if (p.packets > 1)
			count_iface(ifindex, direction, epoch, SLOT_GSO_ADDED, p.packets - 1, p.gso_added_bytes);
		/* gateway roles: a forwarded packet is counted in flows on one interface only */
		if (counted_elsewhere(ctx, xdp, &p.key, p.payload_off, ifindex, direction)) {
			count_iface(ifindex, direction, epoch, SLOT_FORWARDED, p.packets, p.l3_bytes);
			return r;
		}
		/*
		 * Capture first: afterwards nothing of the capture (payload offset,
		 * ports) is live, so the verifier can merge the states of every parse
		 * path before the flow table's probe loop (2.5x the load time otherwise).
		 */
		if (capture_candidate(&p))
			capture(ctx, xdp, &p);
		count_flow(&p, epoch);
	} else {
		count_iface(ifindex, direction, epoch, r == PARSE_NON_IP ? SLOT_NON_IP : SLOT_MALFORMED,
			    1, pkt->frame_len);
	}
	return r;
}

SEC("xdp")
int flowlens_xdp(struct xdp_md *ctx)
{
	struct packet pkt = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
	};

	pkt.frame_len = pkt.data_end - pkt.data;
	count_packet(ctx, true, &pkt, ctx->ingress_ifindex, FLOW_DIR_INGRESS, true);
	if (pcap_running())
		pcap_xdp(ctx);
	return XDP_PASS;
}

/*
 * A global (not inlined) function is verified once, on its own: calling it twice
 * below (before and after a pull) costs no extra verification.
 */
__noinline int count_skb_once(struct __sk_buff *skb, __u32 direction, __u32 final)
{
	struct packet pkt = {
		.data = (void *)(long)skb->data,
		.data_end = (void *)(long)skb->data_end,
		.frame_len = skb->len,
		.gso_segs = skb->gso_segs,
		.gso_size = skb->gso_size,
	};

	return count_packet(skb, false, &pkt, skb->ifindex, direction, final);
}

static __always_inline void count_skb(struct __sk_buff *skb, __u8 direction)
{
	bool linear = (long)skb->data_end - (long)skb->data >= skb->len;

	/*
	 * A linear skb was parsed with final = true: a truncated frame has been
	 * counted (as malformed) already, and pulling cannot bring more bytes.
	 */
	if (count_skb_once(skb, direction, linear) == PARSE_TRUNCATED && !linear) {
		/* headers reach into the non-linear part: pull them in and parse again */
		if (bpf_skb_pull_data(skb, skb->len < TC_PULL_BYTES ? skb->len : TC_PULL_BYTES))
			count_error(FLOW_ERR_PULL);
		count_skb_once(skb, direction, true);
	}
	/* packet captures see every frame, counted here or (roles) elsewhere */
	if (pcap_running())
		pcap_skb(skb, direction);
}

SEC("tc")
int flowlens_tc_in(struct __sk_buff *skb)
{
	count_skb(skb, FLOW_DIR_INGRESS);
	return TC_ACT_UNSPEC;  /* TCX_NEXT: let the next program or the stack decide */
}

SEC("tc")
int flowlens_tc_eg(struct __sk_buff *skb)
{
	count_skb(skb, FLOW_DIR_EGRESS);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
