/* netaddr.h - what kind of address a webhook target resolved to, so that
 * exportd does not become a way into the networks it sits in (SSRF): only
 * public unicast addresses are allowed unless webhooks.allow_private.
 * Pure. */
#ifndef EXPORTD_NETADDR_H
#define EXPORTD_NETADDR_H

#include <sys/socket.h>

enum netaddr_class {
	NETADDR_PUBLIC,
	NETADDR_LOOPBACK,   /* 127/8, ::1 */
	NETADDR_LINK_LOCAL, /* 169.254/16 (cloud metadata), fe80::/10 */
	NETADDR_PRIVATE,    /* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 */
	NETADDR_RESERVED,   /* unspecified, multicast, broadcast, 0/8, 240/4, other families */
};

/* The class of sa (AF_INET or AF_INET6; an IPv4-mapped or -compatible
 * IPv6 address is classed as its IPv4 address). */
enum netaddr_class netaddr_classify(const struct sockaddr *sa);

/* "public", "loopback", "link-local", "private", "reserved". */
const char *netaddr_class_name(enum netaddr_class c);

#endif
