/* Webhook signature (against Python's hmac, computed once and pasted) and
 * the SSRF address classifier. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/conf.h"
#include "hook/endpoints.h"
#include "hook/netaddr.h"
#include "hook/signature.h"
#include "unit.h"

static void test_signature_vectors(void)
{
	char sig[SIGNATURE_MAX];
	const char *body = "{\"id\":\"e1\"}";

	UNIT_EQ_INT(signature_header("whsec_test", 1700000000, body, strlen(body), sig), EX_OK);
	UNIT_EQ_STR(sig, "t=1700000000,v1="
			 "6a85cb117c993612a34c72b4cfb5a16baed25a80d26e298ce0e6671320fd07c8");
	/* The timestamp is signed: another t, another digest. */
	UNIT_EQ_INT(signature_header("whsec_test", 1700000001, body, strlen(body), sig), EX_OK);
	UNIT_EQ_STR(sig, "t=1700000001,v1="
			 "4bb7de33600c8753f17a427586f6558172d28e866aa5dc883b51158a15511698");
	UNIT_EQ_INT(signature_header("k", 0, "", 0, sig), EX_OK);
	UNIT_EQ_STR(sig, "t=0,v1=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7");
}

static enum netaddr_class classify(const char *text)
{
	struct sockaddr_in6 in6;
	struct sockaddr_in in4;

	memset(&in4, 0, sizeof(in4));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, text, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		return netaddr_classify((const struct sockaddr *)&in4);
	}
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		return netaddr_classify((const struct sockaddr *)&in6);
	}
	return (enum netaddr_class) - 1;
}

static void test_classify_v4(void)
{
	UNIT_EQ_INT(classify("127.0.0.1"), NETADDR_LOOPBACK);
	UNIT_EQ_INT(classify("127.255.255.254"), NETADDR_LOOPBACK);
	UNIT_EQ_INT(classify("169.254.169.254"), NETADDR_LINK_LOCAL);
	UNIT_EQ_INT(classify("10.1.2.3"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("172.16.0.1"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("172.31.255.255"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("172.32.0.1"), NETADDR_PUBLIC);
	UNIT_EQ_INT(classify("172.15.255.255"), NETADDR_PUBLIC);
	UNIT_EQ_INT(classify("192.168.1.1"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("100.64.0.1"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("100.128.0.1"), NETADDR_PUBLIC);
	UNIT_EQ_INT(classify("0.0.0.0"), NETADDR_RESERVED);
	UNIT_EQ_INT(classify("224.0.0.1"), NETADDR_RESERVED);
	UNIT_EQ_INT(classify("255.255.255.255"), NETADDR_RESERVED);
	UNIT_EQ_INT(classify("93.184.216.34"), NETADDR_PUBLIC);
	UNIT_EQ_INT(classify("8.8.8.8"), NETADDR_PUBLIC);
}

static void test_classify_v6(void)
{
	UNIT_EQ_INT(classify("::1"), NETADDR_LOOPBACK);
	UNIT_EQ_INT(classify("::"), NETADDR_RESERVED);
	UNIT_EQ_INT(classify("fe80::1"), NETADDR_LINK_LOCAL);
	UNIT_EQ_INT(classify("febf::1"), NETADDR_LINK_LOCAL);
	UNIT_EQ_INT(classify("fc00::1"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("fd12:3456::1"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("ff02::1"), NETADDR_RESERVED);
	/* IPv4 inside IPv6 is classed as the IPv4 address it carries. */
	UNIT_EQ_INT(classify("::ffff:127.0.0.1"), NETADDR_LOOPBACK);
	UNIT_EQ_INT(classify("::ffff:169.254.169.254"), NETADDR_LINK_LOCAL);
	UNIT_EQ_INT(classify("::ffff:10.0.0.1"), NETADDR_PRIVATE);
	UNIT_EQ_INT(classify("::ffff:8.8.8.8"), NETADDR_PUBLIC);
	UNIT_EQ_INT(classify("2606:4700:4700::1111"), NETADDR_PUBLIC);
	UNIT_EQ_STR(netaddr_class_name(NETADDR_LINK_LOCAL), "link-local");
}

static void test_endpoint_urls(void)
{
	struct config cf;
	char long_url[ENDPOINTS_URL_MAX + 2];

	memset(&cf, 0, sizeof(cf));
	UNIT_CHECK(endpoints_url_problem(&cf, "https://hooks.example.com/exportd?a=1") == NULL);
	UNIT_CHECK(endpoints_url_problem(&cf, "https://[2001:db8::1]:8443/x") == NULL);
	UNIT_EQ_STR(endpoints_url_problem(&cf, "http://127.0.0.1:8080/x"),
		    "must be an https:// URL");
	UNIT_EQ_STR(endpoints_url_problem(&cf, "ftp://example.com/x"), "must be an https:// URL");
	UNIT_EQ_STR(endpoints_url_problem(&cf, "HTTPS://example.com/"), "must be an https:// URL");
	UNIT_EQ_STR(endpoints_url_problem(&cf, "https://u:p@example.com/"),
		    "must not hold credentials");
	UNIT_EQ_STR(endpoints_url_problem(&cf, "https://"), "is not a valid URL");
	UNIT_EQ_STR(endpoints_url_problem(&cf, "https://exa mple.com/"), "is not a valid URL");
	memset(long_url, 'a', sizeof(long_url) - 1);
	memcpy(long_url, "https://", 8);
	long_url[sizeof(long_url) - 1] = '\0';
	UNIT_EQ_STR(endpoints_url_problem(&cf, long_url), "must be at most 2048 bytes");
	cf.webhooks_allow_http = 1;
	UNIT_CHECK(endpoints_url_problem(&cf, "http://127.0.0.1:8080/x") == NULL);
	UNIT_EQ_STR(endpoints_url_problem(&cf, "ftp://example.com/x"),
		    "must be an https:// or http:// URL");
	UNIT_CHECK(endpoints_event_valid("export.expired"));
	UNIT_CHECK(!endpoints_event_valid("export.complete"));
	UNIT_CHECK(!endpoints_event_valid(""));
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_signature_vectors),
		UNIT_TEST(test_classify_v4),
		UNIT_TEST(test_classify_v6),
		UNIT_TEST(test_endpoint_urls),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
