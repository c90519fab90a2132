/* SPDX-License-Identifier: MIT */
/*
 * neighbours.h — the kernel's neighbour table (ARP and IPv6 ND), dumped with
 * rtnetlink RTM_GETNEIGH: which link-layer (MAC) address each IP address on a
 * link answers from. The control plane groups a LAN's addresses by MAC into
 * devices (src/enrich/devices.ts). One synchronous dump per call: the table
 * of a home or office LAN is a few hundred entries, one or two datagrams.
 */
#ifndef FLOWLENS_NEIGHBOURS_H
#define FLOWLENS_NEIGHBOURS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_neighbour {
	int ifindex;
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t mac_len;   /* 6 for Ethernet; 0: no link-layer address (an INCOMPLETE or FAILED entry) */
	uint16_t state;    /* NUD_* (linux/neighbour.h) */
	uint8_t addr[16];  /* network byte order; IPv4 in the first 4 bytes */
	uint8_t mac[8];
};

/*
 * Dumps the neighbour table of this network namespace into out (at most max
 * entries; the rest are left out and counted in *more). Returns how many were
 * written, or a negative errno.
 */
int fl_neighbours_dump(struct fl_neighbour *out, int max, int *more);

#ifdef __cplusplus
}
#endif
#endif
