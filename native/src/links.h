/* SPDX-License-Identifier: MIT */
/*
 * links.h — link events from the kernel (rtnetlink RTM_NEWLINK / RTM_DELLINK),
 * so that the collector can follow an interface that is deleted and created
 * again (PPP, WireGuard, VPN tunnels on every reconnect) and attach to its new
 * ifindex. A non-blocking NETLINK_ROUTE socket subscribed to RTMGRP_LINK: the
 * kernel queues the events, the caller reads them when it likes (Node cannot
 * watch a netlink socket itself), so nothing here needs a thread.
 */
#ifndef FLOWLENS_LINKS_H
#define FLOWLENS_LINKS_H

#include <stdint.h>
#include <net/if.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fl_link_event_type { FL_LINK_NEW = 0, FL_LINK_DEL = 1 };

struct fl_link_event {
	enum fl_link_event_type type;
	int ifindex;
	char name[IF_NAMESIZE];
};

/* Opens the socket; returns its fd or a negative errno. */
int fl_links_open(void);
/*
 * Reads the queued events, at most max, into out; returns how many, or a
 * negative errno. *overflow is set when the kernel dropped events because the
 * queue was full (ENOBUFS): the caller then re-reads the interfaces itself.
 * Events beyond max stay queued for the next call.
 */
int fl_links_read(int fd, struct fl_link_event *out, int max, int *overflow);
/* Closes the socket. */
void fl_links_close(int fd);

#ifdef __cplusplus
}
#endif
#endif
