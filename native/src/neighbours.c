// SPDX-License-Identifier: MIT
/* neighbours.c — a neighbour table dump over rtnetlink; see neighbours.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/neighbour.h>
#include "neighbours.h"

/* One RTM_NEWNEIGH message into an entry; 0 if it is not an IPv4/IPv6 neighbour with an address. */
static int parse_neighbour(const struct nlmsghdr *h, struct fl_neighbour *n)
{
	const struct ndmsg *nd = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*nd));
	int have_addr = 0;

	if (h->nlmsg_type != RTM_NEWNEIGH || len < 0 || (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6))
		return 0;
	memset(n, 0, sizeof(*n));
	n->ifindex = nd->ndm_ifindex;
	n->family = nd->ndm_family;
	n->state = nd->ndm_state;
	for (const struct rtattr *a = RTM_RTA(nd); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t l = RTA_PAYLOAD(a);
		if (a->rta_type == NDA_DST && l == (nd->ndm_family == AF_INET ? 4u : 16u)) {
			memcpy(n->addr, RTA_DATA(a), l);
			have_addr = 1;
		} else if (a->rta_type == NDA_LLADDR && l <= sizeof(n->mac)) {
			memcpy(n->mac, RTA_DATA(a), l);
			n->mac_len = (uint8_t)l;
		}
	}
	return have_addr;
}

int fl_neighbours_dump(struct fl_neighbour *out, int max, int *more)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)), .nlmsg_type = RTM_GETNEIGH,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.nd = { .ndm_family = AF_UNSPEC },
	};
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int n = 0, r = 0;

	*more = 0;
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	/* a dump is a series of datagrams ending with NLMSG_DONE */
	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		int len = (int)got;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				r = e->error ? e->error : -EIO;
				goto out;
			}
			if (n < max) {
				if (parse_neighbour(h, &out[n]))
					n++;
			} else if (h->nlmsg_type == RTM_NEWNEIGH) {
				(*more)++;
			}
		}
	}
out:
	close(fd);
	return r < 0 ? r : n;
}
