/* Key format and hashing, constant-time compare, base64url. */
#include "common/apikey.h"
#include "common/crypto.h"
#include "common/sha256.h"

#include <openssl/rand.h>
#include "unit.h"

static void test_sha256_vectors(void)
{
	char hex[CRYPTO_SHA256_HEX_LEN + 1];

	crypto_sha256_hex("", 0, hex);
	UNIT_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	crypto_sha256_hex("abc", 3, hex);
	UNIT_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_apikey_roundtrip(void)
{
	char text[APIKEY_LEN + 1], hash[CRYPTO_SHA256_HEX_LEN + 1];
	struct apikey a, b, other;

	if (!UNIT_EQ_INT(apikey_generate(&a, text), EX_OK)) {
		return;
	}
	UNIT_EQ_INT(strlen(text), APIKEY_LEN);
	UNIT_EQ_INT(strncmp(text, "exk_", 4), 0);
	UNIT_EQ_INT(apikey_parse(text, &b), EX_OK);
	UNIT_EQ_STR(b.id, a.id);
	UNIT_EQ_STR(b.secret, a.secret);
	apikey_hash(&a, hash);
	UNIT_CHECK(apikey_matches(&b, hash));
	UNIT_EQ_INT(apikey_generate(&other, text), EX_OK);
	UNIT_CHECK(!apikey_matches(&other, hash));
	UNIT_CHECK(strcmp(other.id, a.id) != 0);
}

static void test_apikey_rejects(void)
{
	static const char *const bad[] = {
		"",
		"exk_",
		"Bearer "
		"exk_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"exk_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
		"exk_0123456789ab_"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefa",
		"exk_0123456789AB_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"exk_0123456789ab-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"xxx_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"exk_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
	};
	struct apikey k;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!UNIT_EQ_INT(apikey_parse(bad[i], &k), EX_EINVAL)) {
			fprintf(stderr, "  case %lu\n", (unsigned long)i);
		}
	}
	UNIT_EQ_INT(apikey_parse("exk_0123456789ab_"
				 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				 &k),
		    EX_OK);
}

static void test_equal(void)
{
	UNIT_CHECK(crypto_equal("abc", "abc"));
	UNIT_CHECK(!crypto_equal("abc", "abd"));
	UNIT_CHECK(!crypto_equal("abc", "abcd"));
	UNIT_CHECK(crypto_equal("", ""));
}

static void test_b64url(void)
{
	static const char *const inputs[] = {"",     "f",     "fo",	"foo",
					     "foob", "fooba", "foobar", "\xff\xfe\xfd?>"};
	static const char *const encoded[] = {"",	"Zg",	   "Zm8",      "Zm9v",
					      "Zm9vYg", "Zm9vYmE", "Zm9vYmFy", "__79Pz4"};
	char out[64], back[64];
	size_t i, n;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		UNIT_EQ_INT(crypto_b64url_encode(inputs[i], strlen(inputs[i]), out, sizeof(out)),
			    EX_OK);
		UNIT_EQ_STR(out, encoded[i]);
		UNIT_EQ_INT(crypto_b64url_decode(out, back, sizeof(back), &n), EX_OK);
		UNIT_EQ_MEM(back, n, inputs[i], strlen(inputs[i]));
	}
	UNIT_EQ_INT(crypto_b64url_decode("Zm9v!", back, sizeof(back), &n), EX_EINVAL);
	UNIT_EQ_INT(crypto_b64url_decode("Z", back, sizeof(back), &n), EX_EINVAL);
	UNIT_EQ_INT(crypto_b64url_decode("Zm9vYmFy", back, 3, &n), EX_ETOOBIG);
	UNIT_EQ_INT(crypto_b64url_encode("foobar", 6, out, 8), EX_ETOOBIG);
}

static void test_sha256_nist(void)
{
	static const struct {
		const char *in;
		const char *out;
	} v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
		 "klmnopqrlmnopqrsmnopqrstnopqrstu",
		 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	struct sha256 s;
	char hex[65];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha256_init(&s);
		sha256_update(&s, v[i].in, strlen(v[i].in));
		sha256_hex(&s, hex);
		UNIT_EQ_STR(hex, v[i].out);
	}
}

/* Random data in random pieces, the state saved and loaded between them,
 * against OpenSSL's one-shot digest. */
static void test_sha256_resume_matches_openssl(void)
{
	static unsigned char data[200000];
	char hex[65], ref[65], state[SHA256_STATE_HEX + 1];
	struct sha256 s, t;
	size_t off = 0, n;
	unsigned char r;

	if (!UNIT_CHECK(RAND_bytes(data, sizeof(data)) == 1)) {
		return;
	}
	crypto_sha256_hex(data, sizeof(data), ref);
	sha256_init(&s);
	while (off < sizeof(data)) {
		if (RAND_bytes(&r, 1) != 1) {
			return;
		}
		n = (size_t)r * 37 % 5000;
		n = n > sizeof(data) - off ? sizeof(data) - off : n;
		sha256_update(&s, data + off, n);
		off += n;
		sha256_save(&s, state);
		UNIT_EQ_INT(sha256_load(&t, state), EX_OK);
		s = t;
	}
	sha256_hex(&s, hex);
	UNIT_EQ_STR(hex, ref);
	UNIT_EQ_INT(sha256_load(&t, "00"), EX_EINVAL);
	state[strlen(state) - 1] = 'g';
	UNIT_EQ_INT(sha256_load(&t, state), EX_EINVAL);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_sha256_vectors),
		UNIT_TEST(test_apikey_roundtrip),
		UNIT_TEST(test_apikey_rejects),
		UNIT_TEST(test_equal),
		UNIT_TEST(test_b64url),
		UNIT_TEST(test_sha256_nist),
		UNIT_TEST(test_sha256_resume_matches_openssl),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
