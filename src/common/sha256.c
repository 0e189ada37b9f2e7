#include "common/sha256.h"

#include <string.h>

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->bytes = 0;
	s->fill = 0;
}

static void sha256_schedule(const uint8_t *p, uint32_t w[64])
{
	int i;

	for (i = 0; i < 16; i++) {
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	}
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	sha256_schedule(p, w);
	memcpy(v, h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
		t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(uint32_t));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++) {
		h[i] += v[i];
	}
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t take;

	s->bytes += len;
	if (s->fill > 0) {
		take = 64 - (size_t)s->fill < len ? 64 - (size_t)s->fill : len;
		memcpy(s->block + s->fill, p, take);
		s->fill = (uint8_t)(s->fill + take);
		p += take;
		len -= take;
		if (s->fill < 64) {
			return;
		}
		sha256_block(s->h, s->block);
		s->fill = 0;
	}
	for (; len >= 64; p += 64, len -= 64) {
		sha256_block(s->h, p);
	}
	memcpy(s->block, p, len);
	s->fill = (uint8_t)len;
}

void sha256_hex(const struct sha256 *s, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct sha256 t = *s;
	uint8_t pad[72] = {0x80};
	uint64_t bits = s->bytes * 8;
	size_t npad = (t.fill < 56 ? 56 : 120) - t.fill;
	int i;

	for (i = 0; i < 8; i++) {
		pad[npad + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	}
	sha256_update(&t, pad, npad + 8);
	for (i = 0; i < 32; i++) {
		uint8_t b = (uint8_t)(t.h[i / 4] >> (24 - 8 * (i % 4)));

		out[2 * i] = hex[b >> 4];
		out[2 * i + 1] = hex[b & 15];
	}
	out[64] = '\0';
}

/* The state as bytes: h (big-endian), bytes (big-endian), block, fill. */
static void sha256_pack(const struct sha256 *s, uint8_t raw[105])
{
	int i;

	for (i = 0; i < 32; i++) {
		raw[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
	}
	for (i = 0; i < 8; i++) {
		raw[32 + i] = (uint8_t)(s->bytes >> (56 - 8 * i));
	}
	memcpy(raw + 40, s->block, 64);
	raw[104] = s->fill;
}

void sha256_save(const struct sha256 *s, char out[SHA256_STATE_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[105];
	int i;

	sha256_pack(s, raw);
	for (i = 0; i < 105; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[SHA256_STATE_HEX] = '\0';
}

static int sha256_nibble(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum ex_status sha256_load(struct sha256 *s, const char *text)
{
	uint8_t raw[105];
	int i, hi, lo;

	if (strlen(text) != SHA256_STATE_HEX) {
		return EX_EINVAL;
	}
	for (i = 0; i < 105; i++) {
		hi = sha256_nibble(text[2 * i]);
		lo = sha256_nibble(text[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return EX_EINVAL;
		}
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	if (raw[104] >= 64) {
		return EX_EINVAL;
	}
	for (i = 0; i < 8; i++) {
		s->h[i] = (uint32_t)raw[4 * i] << 24 | (uint32_t)raw[4 * i + 1] << 16 |
			  (uint32_t)raw[4 * i + 2] << 8 | raw[4 * i + 3];
	}
	s->bytes = 0;
	for (i = 0; i < 8; i++) {
		s->bytes = s->bytes << 8 | raw[32 + i];
	}
	memcpy(s->block, raw + 40, 64);
	s->fill = raw[104];
	return s->bytes % 64 == s->fill ? EX_OK : EX_EINVAL;
}
