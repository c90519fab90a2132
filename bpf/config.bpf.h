/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* config.bpf.h — every knob of flow.bpf.c, set by user space between open and load. */
#ifndef FLOWLENS_CONFIG_BPF_H
#define FLOWLENS_CONFIG_BPF_H

#include <stdbool.h>
#include "flow.h"

/* Slots per epoch region of flow_slots (twice max_flows: short probe runs). */
const volatile __u32 table_slots = 2;
/* Flows counted per interval before new flows go to the overflow counters (--map-size). */
const volatile __u32 max_flows = 1;

/* Copy DNS answers and TLS ClientHellos into the captures ring buffer (off: the verifier drops the code). */
const volatile bool capture_enabled = true;

/* Copy frames that match a running capture into pcap_ring (off: the verifier drops the code). */
const volatile bool pcap_enabled = true;

/*
 * Gateway roles (enum flow_role), set at open from the settings: role_of[i] is
 * the role of interface role_ifindex[i]. Off (no role configured): the
 * verifier drops the role code, every packet is counted as without roles.
 */
const volatile bool roles_enabled = false;
const volatile __u8 role_of[FLOW_ROLE_SLOTS] = {};
/*
 * Data, not rodata: a re-created interface (a PPP or VPN link's reconnect)
 * gets a new ifindex and keeps its role (fl_set_role_ifindex writes it).
 */
volatile __u32 role_ifindex[FLOW_ROLE_SLOTS] = {};

#endif
