/* netaddr.c - address classes for the webhook SSRF check (see netaddr.h). */
#include "hook/netaddr.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* a (host order) within p/len? */
static int netaddr_in4(uint32_t a, uint32_t p, int len)
{
	uint32_t mask = len == 0 ? 0 : 0xffffffffU << (32 - len);

	return (a & mask) == (p & mask);
}

static enum netaddr_class netaddr_v4(uint32_t a)
{
	if (netaddr_in4(a, 0x7f000000U, 8)) {
		return NETADDR_LOOPBACK;
	}
	if (netaddr_in4(a, 0xa9fe0000U, 16)) {
		return NETADDR_LINK_LOCAL;
	}
	if (netaddr_in4(a, 0x0a000000U, 8) || netaddr_in4(a, 0xac100000U, 12) ||
	    netaddr_in4(a, 0xc0a80000U, 16) || netaddr_in4(a, 0x64400000U, 10)) {
		return NETADDR_PRIVATE;
	}
	if (netaddr_in4(a, 0, 8) || netaddr_in4(a, 0xe0000000U, 4) ||
	    netaddr_in4(a, 0xf0000000U, 4)) {
		return NETADDR_RESERVED;
	}
	return NETADDR_PUBLIC;
}

static enum netaddr_class netaddr_v6(const unsigned char *b)
{
	static const unsigned char zero[12],
		mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];

	if (memcmp(b, zero, 12) == 0) {
		/* ::, ::1, and the deprecated IPv4-compatible form */
		return v4 == 0 ? NETADDR_RESERVED : v4 == 1 ? NETADDR_LOOPBACK : netaddr_v4(v4);
	}
	if (memcmp(b, mapped, 12) == 0) {
		return netaddr_v4(v4);
	}
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
		return NETADDR_LINK_LOCAL;
	}
	if ((b[0] & 0xfe) == 0xfc) {
		return NETADDR_PRIVATE;
	}
	return b[0] == 0xff ? NETADDR_RESERVED : NETADDR_PUBLIC;
}

enum netaddr_class netaddr_classify(const struct sockaddr *sa)
{
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;

	if (sa->sa_family == AF_INET) {
		in4 = (const struct sockaddr_in *)(const void *)sa;
		return netaddr_v4(ntohl(in4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return netaddr_v6(in6->sin6_addr.s6_addr);
	}
	return NETADDR_RESERVED;
}

const char *netaddr_class_name(enum netaddr_class c)
{
	static const char *const names[] = {
		[NETADDR_PUBLIC] = "public",	     [NETADDR_LOOPBACK] = "loopback",
		[NETADDR_LINK_LOCAL] = "link-local", [NETADDR_PRIVATE] = "private",
		[NETADDR_RESERVED] = "reserved",
	};

	return c <= NETADDR_RESERVED ? names[c] : "reserved";
}
