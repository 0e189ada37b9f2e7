/* fuzz_conf.c - exportd.conf (common/conf.h), parsed from memory through
 * conf_load_text(), the function conf_load() reads the file with.
 *
 * Property: a configuration that loads prints (conf_dump) as text that loads
 * again and prints the same: every value the parser accepts has one
 * spelling the parser reads back as itself. */
#include "common/conf.h"
#include "fuzz.h"

static void fuzz_conf_dump(const struct config *cf, struct buf *out)
{
	enum ex_status st = conf_dump(cf, out);

	FUZZ_CHECK(st == EX_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);
	struct config cf, again;
	struct buf err, dump, dump2;
	enum ex_status st;

	buf_init(&err, 1024);
	buf_init(&dump, 1 << 20);
	buf_init(&dump2, 1 << 20);
	st = conf_load_text(&cf, text, "fuzz.conf", &err);
	if (st) {
		FUZZ_CHECK(err.len > 0);
		goto out;
	}
	fuzz_conf_dump(&cf, &dump);
	conf_free(&cf);
	st = conf_load_text(&again, buf_str(&dump), "dump", &err);
	if (st) {
		fprintf(stderr, "reloading the dump: %s\n%s", buf_str(&err), buf_str(&dump));
	}
	FUZZ_CHECK(st == EX_OK);
	fuzz_conf_dump(&again, &dump2);
	conf_free(&again);
	FUZZ_CHECK(dump.len == dump2.len && memcmp(dump.data, dump2.data, dump.len) == 0);
out:
	buf_free(&err);
	buf_free(&dump);
	buf_free(&dump2);
	free(text);
	return 0;
}
