// SPDX-License-Identifier: MIT
/* links.c — rtnetlink link events; see links.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "links.h"

int fl_links_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	int size = 1 << 20; /* room for a burst (many tunnels coming up at once) between reads */

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* One RTM_NEWLINK / RTM_DELLINK message into an event; 0 if it is something else. */
static int parse_link(const struct nlmsghdr *h, struct fl_link_event *ev)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

	if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) || len < 0)
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->type = h->nlmsg_type == RTM_NEWLINK ? FL_LINK_NEW : FL_LINK_DEL;
	ev->ifindex = ifi->ifi_index;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME) {
			size_t n = RTA_PAYLOAD(a);
			if (n >= IF_NAMESIZE)
				n = IF_NAMESIZE - 1;
			memcpy(ev->name, RTA_DATA(a), n);
			ev->name[n] = '\0';
		}
	}
	return 1;
}

int fl_links_read(int fd, struct fl_link_event *out, int max, int *overflow)
{
	/* one datagram can hold several messages; the kernel never splits one */
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	int n = 0;

	*overflow = 0;
	/* stop with room for a whole datagram's events: a datagram read is consumed */
	while (n + (int)(sizeof(buf) / NLMSG_LENGTH(sizeof(struct ifinfomsg))) <= max) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				*overflow = 1;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		int len = (int)got;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (parse_link(h, &out[n]))
				n++;
		}
	}
	return n;
}

void fl_links_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
