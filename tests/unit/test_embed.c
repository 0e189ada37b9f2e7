/* test_embed.c - signed embed tokens (src/http/embed.c): a vector made with
 * Python's hmac/base64 (the independent reference), rotation, expiry, the
 * lifetime ceiling, and every way a token can be wrong. */
#include <string.h>

#include "http/embed.h"
#include "unit.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define OTHER  "fedcba9876543210fedcba9876543210"
#define EXPIRY 1764405000
#define DAY    86400LL
/* python3: p = "exe1." + b64url(b"acme\nana@example.com\n1764405000");
 * p + "." + b64url(hmac.new(SECRET, p.encode(), sha256).digest()) */
#define VECTOR                                                                                     \
	"exe1.YWNtZQphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA."                                         \
	"Nh_dJO5rB2eMhspiZ7WElOhs7YLQ61QA-rLVlY0h_eY"

static void test_embed_vector(void)
{
	struct embed_claims c;
	char tok[EMBED_TOKEN_MAX];

	UNIT_EQ_INT(embed_sign(SECRET, "acme", "ana@example.com", EXPIRY, tok, sizeof(tok)), EX_OK);
	UNIT_EQ_STR(tok, VECTOR);
	UNIT_EQ_INT(embed_verify(SECRET, VECTOR, EXPIRY - 1, DAY, &c), EMBED_VALID);
	UNIT_EQ_STR(c.workspace, "acme");
	UNIT_EQ_STR(c.email, "ana@example.com");
	UNIT_CHECK(c.expiry == EXPIRY);
	UNIT_CHECK(embed_is_token(VECTOR));
	UNIT_CHECK(!embed_is_token("exk_abc"));
}

/* The first secret signs, any verifies; an unknown secret does not. */
static void test_embed_rotation(void)
{
	struct embed_claims c;

	UNIT_EQ_INT(embed_verify(OTHER ", " SECRET, VECTOR, EXPIRY - 1, DAY, &c), EMBED_VALID);
	UNIT_EQ_INT(embed_verify(" " SECRET "\t,", VECTOR, EXPIRY - 1, DAY, &c), EMBED_VALID);
	UNIT_EQ_INT(embed_verify(OTHER, VECTOR, EXPIRY - 1, DAY, &c), EMBED_INVALID);
	UNIT_EQ_INT(embed_verify("", VECTOR, EXPIRY - 1, DAY, &c), EMBED_INVALID);
}

/* Expired at its second; a distinct answer from a forgery.  An expiry too
 * far ahead is refused, so a leaked page token cannot live for years. */
static void test_embed_expiry(void)
{
	struct embed_claims c;

	UNIT_EQ_INT(embed_verify(SECRET, VECTOR, EXPIRY, DAY, &c), EMBED_EXPIRED);
	UNIT_EQ_INT(embed_verify(SECRET, VECTOR, EXPIRY + 1000, DAY, &c), EMBED_EXPIRED);
	UNIT_EQ_INT(embed_verify(SECRET, VECTOR, EXPIRY - DAY, DAY, &c), EMBED_VALID);
	UNIT_EQ_INT(embed_verify(SECRET, VECTOR, EXPIRY - DAY - 1, DAY, &c), EMBED_TOO_LONG);
	UNIT_EQ_INT(embed_verify(OTHER, VECTOR, EXPIRY + 1, DAY, &c), EMBED_INVALID);
}

static void test_embed_tampered(void)
{
	static const char *const bad[] = {
		"",
		"exe1.",
		"exe1..",
		"exe1.YWNtZQphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA",
		/* payload changed (workspace acmf), signature kept */
		"exe1.YWNtZgphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA."
		"Nh_dJO5rB2eMhspiZ7WElOhs7YLQ61QA-rLVlY0h_eY",
		/* signature changed in its last character */
		"exe1.YWNtZQphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA."
		"Nh_dJO5rB2eMhspiZ7WElOhs7YLQ61QA-rLVlY0h_eZ",
		/* signature one character short / long */
		"exe1.YWNtZQphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA."
		"Nh_dJO5rB2eMhspiZ7WElOhs7YLQ61QA-rLVlY0h_e",
		"exe1.YWNtZQphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA."
		"Nh_dJO5rB2eMhspiZ7WElOhs7YLQ61QA-rLVlY0h_eYY",
		"exe2.YWNtZQphbmFAZXhhbXBsZS5jb20KMTc2NDQwNTAwMA."
		"Nh_dJO5rB2eMhspiZ7WElOhs7YLQ61QA-rLVlY0h_eY",
	};
	struct embed_claims c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!UNIT_EQ_INT(embed_verify(SECRET, bad[i], EXPIRY - 1, DAY, &c),
				 EMBED_INVALID)) {
			fprintf(stderr, "  case %lu\n", (unsigned long)i);
		}
	}
}

/* A genuine signature over a bad payload is still refused: the signer
 * refuses to make one, and so does the verifier. */
static void test_embed_bad_claims(void)
{
	static const struct {
		const char *workspace, *email;
	} bad[] = {
		{"", "ana@example.com"},       {"acme", ""},
		{"acme", "not-an-address"},    {"ac\tme", "ana@example.com"},
		{"acme\n", "ana@example.com"}, {"acme", "ana@example.com\nx"},
		{"\xff", "ana@example.com"},
	};
	char tok[EMBED_TOKEN_MAX], ws[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!UNIT_EQ_INT(embed_sign(SECRET, bad[i].workspace, bad[i].email, EXPIRY, tok,
					    sizeof(tok)),
				 EX_EINVAL)) {
			fprintf(stderr, "  case %lu\n", (unsigned long)i);
		}
	}
	memset(ws, 'w', sizeof(ws) - 1);
	ws[sizeof(ws) - 1] = '\0';
	UNIT_EQ_INT(embed_sign(SECRET, ws, "ana@example.com", EXPIRY, tok, sizeof(tok)), EX_EINVAL);
	UNIT_EQ_INT(embed_sign("", "acme", "ana@example.com", EXPIRY, tok, sizeof(tok)), EX_EINVAL);
	UNIT_EQ_INT(embed_sign(SECRET, "acme", "ana@example.com", EXPIRY, tok, 20), EX_ETOOBIG);
}

/* Whatever the host page puts in, the verifier never reads past its bound. */
static void test_embed_oversized(void)
{
	char big[EMBED_TOKEN_MAX + 10];
	struct embed_claims c;

	memset(big, 'A', sizeof(big) - 1);
	memcpy(big, EMBED_PREFIX, strlen(EMBED_PREFIX));
	big[sizeof(big) - 1] = '\0';
	UNIT_EQ_INT(embed_verify(SECRET, big, EXPIRY - 1, DAY, &c), EMBED_INVALID);
	big[EMBED_TOKEN_MAX - 1] = '\0';
	big[EMBED_TOKEN_MAX - 45] = '.';
	UNIT_EQ_INT(embed_verify(SECRET, big, EXPIRY - 1, DAY, &c), EMBED_INVALID);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_embed_vector),	  UNIT_TEST(test_embed_rotation),
		UNIT_TEST(test_embed_expiry),	  UNIT_TEST(test_embed_tampered),
		UNIT_TEST(test_embed_bad_claims), UNIT_TEST(test_embed_oversized),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
