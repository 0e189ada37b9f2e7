/* test_template.c - the template renderer on templates of its own.
 *
 * This program defines template_files itself, so the linker takes these
 * instead of the compiled-in mail templates (which test_mail renders).
 * They are written as embed-templates.sh emits them: CRLF line ends, a
 * line holding only a section tag without one.
 */
#include "mail/template.h"

#include <string.h>

#include "unit.h"

const struct template_file template_files[] = {
	{"plain.txt", "Hello {{name}}!\r\n"},
	{"page.html", "<p title=\"{{name}}\">{{name}}</p>\r\n"},
	{"sections.txt", "{{#a}}a is set\r\n{{/a}}{{^a}}a is empty\r\n{{/a}}"
			 "{{#a}}{{#b}}a and b\r\n{{/b}}{{/a}}end\r\n"},
	{"indent.txt", "Error:\r\n{{text|indent}}\r\n"},
	{"indent.html", "<pre>{{text|indent}}</pre>\r\n"},
	{"missing.txt", "{{nobody}}"},
	{"filter.txt", "{{name|shout}}"},
	{"unclosed.txt", "{{#a}}never closed"},
	{"stray.txt", "{{/a}}"},
	{"open.txt", "{{name"},
	{"empty.txt", ""},
};
const unsigned template_file_count = sizeof(template_files) / sizeof(template_files[0]);

/* Render name with values and compare, or expect an error. */
static void check(const char *name, const struct template_value *v, size_t n,
		  enum ex_status want_st, const char *want)
{
	struct buf out;

	buf_init(&out, 4096);
	UNIT_EQ_INT(buf_puts(&out, "["), EX_OK);
	if (UNIT_EQ_INT(template_render(name, v, n, &out), want_st) && want != NULL) {
		if (!UNIT_EQ_STR(buf_str(&out) + 1, want)) {
			fprintf(stderr, "  template %s\n", name);
		}
	}
	buf_free(&out);
}

static void test_values(void)
{
	struct template_value v[] = {{"name", "Zoë <z> & \"co\" 'x'\nline"}};

	check("plain.txt", v, 1, EX_OK, "Hello Zoë <z> & \"co\" 'x'\r\nline!\r\n");
	check("page.html", v, 1, EX_OK,
	      "<p title=\"Zoë &lt;z&gt; &amp; &quot;co&quot; &#39;x&#39;\r\nline\">"
	      "Zoë &lt;z&gt; &amp; &quot;co&quot; &#39;x&#39;\r\nline</p>\r\n");
	v[0].value = NULL;
	check("plain.txt", v, 1, EX_OK, "Hello !\r\n");
	check("empty.txt", NULL, 0, EX_OK, "");
}

static void test_sections(void)
{
	struct template_value v[] = {{"a", ""}, {"b", ""}};

	check("sections.txt", v, 2, EX_OK, "a is empty\r\nend\r\n");
	v[0].value = "yes";
	check("sections.txt", v, 2, EX_OK, "a is set\r\nend\r\n");
	v[1].value = "1";
	check("sections.txt", v, 2, EX_OK, "a is set\r\na and b\r\nend\r\n");
}

static void test_indent(void)
{
	struct template_value v[] = {{"text", "one\n  two\n\nfour <&>"}};

	check("indent.txt", v, 1, EX_OK, "Error:\r\n  one\r\n    two\r\n\r\n  four <&>\r\n");
	check("indent.html", v, 1, EX_OK,
	      "<pre>  one\r\n    two\r\n\r\n  four &lt;&amp;&gt;</pre>\r\n");
	v[0].value = "";
	check("indent.txt", v, 1, EX_OK, "Error:\r\n\r\n");
}

/* Mistakes in a template are errors, never output. */
static void test_errors(void)
{
	struct template_value v[] = {{"name", "x"}};

	check("nonexistent.txt", v, 1, EX_EINVAL, NULL);
	check("missing.txt", v, 1, EX_EINVAL, NULL);
	check("filter.txt", v, 1, EX_EINVAL, NULL);
	check("unclosed.txt", v, 1, EX_EINVAL, NULL);
	check("stray.txt", v, 1, EX_EINVAL, NULL);
	check("open.txt", v, 1, EX_EINVAL, NULL);
	check("sections.txt", v, 1, EX_EINVAL, NULL);
}

static void test_out_of_room(void)
{
	struct template_value v[] = {{"name", "a name longer than the room"}};
	struct buf out;

	buf_init(&out, 16);
	UNIT_EQ_INT(template_render("plain.txt", v, 1, &out), EX_ETOOBIG);
	buf_free(&out);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_values), UNIT_TEST(test_sections),    UNIT_TEST(test_indent),
		UNIT_TEST(test_errors), UNIT_TEST(test_out_of_room),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
