/* template.c - renders the compiled-in mail templates (see template.h).
 *
 * The templates are ours and fixed at build time, so the renderer is
 * strict rather than forgiving: anything it does not understand is an
 * error the unit tests catch, never output a reader sees.
 */
#include "mail/template.h"

#include <stdio.h>
#include <string.h>

struct template_ctx {
	const struct template_value *values;
	size_t n;
	int html; /* escape values for HTML */
	struct buf *out;
};

/* The value called name (len bytes), "" for NULL; NULL when there is none. */
static const char *template_lookup(const struct template_ctx *c, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strlen(c->values[i].name) == len && memcmp(c->values[i].name, name, len) == 0) {
			return c->values[i].value != NULL ? c->values[i].value : "";
		}
	}
	return NULL;
}

/* What ch, a character template_escape() replaces, becomes. */
static const char *template_entity(char ch)
{
	switch (ch) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return "\r\n";
	}
}

/* len bytes of a value, escaped for the template. */
static enum ex_status template_escape(const struct template_ctx *c, const char *s, size_t len)
{
	const char *special = c->html ? "&<>\"'\n" : "\n";
	enum ex_status st;
	size_t n;

	while (len > 0) {
		n = 0;
		while (n < len && (s[n] == '\0' || strchr(special, s[n]) == NULL)) {
			n++;
		}
		st = buf_append(c->out, s, n);
		if (st || n == len) {
			return st;
		}
		st = buf_puts(c->out, template_entity(s[n]));
		if (st) {
			return st;
		}
		s += n + 1;
		len -= n + 1;
	}
	return EX_OK;
}

/* v with each non-empty line indented by two spaces. */
static enum ex_status template_indent(const struct template_ctx *c, const char *v)
{
	enum ex_status st;
	size_t n;

	for (;;) {
		n = strcspn(v, "\n");
		if (n > 0) {
			st = buf_puts(c->out, "  ");
			if (st) {
				return st;
			}
		}
		/* The line with its '\n', if it has one. */
		st = template_escape(c, v, n + (v[n] == '\n'));
		if (st || v[n] == '\0') {
			return st;
		}
		v += n + 1;
	}
}

/* {{name}} or {{name|indent}}; tag is what is between the braces. */
static enum ex_status template_variable(const struct template_ctx *c, const char *tag, size_t len)
{
	const char *bar = memchr(tag, '|', len);
	size_t nlen = bar != NULL ? (size_t)(bar - tag) : len;
	const char *v = template_lookup(c, tag, nlen);

	if (v == NULL) {
		return EX_EINVAL;
	}
	if (bar == NULL) {
		return template_escape(c, v, strlen(v));
	}
	if (len - nlen - 1 == 6 && memcmp(bar + 1, "indent", 6) == 0) {
		return template_indent(c, v);
	}
	return EX_EINVAL;
}

static enum ex_status template_run(const struct template_ctx *c, const char *p, const char *end);

/* {{#name}} or {{^name}} at tag (between the braces, len bytes), its body
 * starting at body: rendered or skipped; *next gets where text resumes. */
static enum ex_status template_section(const struct template_ctx *c, const char *tag, size_t len,
				       const char *body, const char *end, const char **next)
{
	const char *v = template_lookup(c, tag + 1, len - 1);
	char close[64];
	const char *stop;
	int n;

	n = snprintf(close, sizeof(close), "{{/%.*s}}", (int)(len - 1), tag + 1);
	if (v == NULL || n < 0 || (size_t)n >= sizeof(close)) {
		return EX_EINVAL;
	}
	stop = strstr(body, close);
	if (stop == NULL || stop + n > end) {
		return EX_EINVAL;
	}
	*next = stop + n;
	if ((v[0] != '\0') == (tag[0] == '#')) {
		return template_run(c, body, stop);
	}
	return EX_OK;
}

/* Render the template text from p to end. */
static enum ex_status template_run(const struct template_ctx *c, const char *p, const char *end)
{
	const char *open, *close;
	enum ex_status st;
	size_t len;

	while (p < end) {
		open = strstr(p, "{{");
		if (open == NULL || open >= end) {
			return buf_append(c->out, p, (size_t)(end - p));
		}
		st = buf_append(c->out, p, (size_t)(open - p));
		if (st) {
			return st;
		}
		close = strstr(open + 2, "}}");
		if (close == NULL || close + 2 > end) {
			return EX_EINVAL;
		}
		len = (size_t)(close - open - 2);
		p = close + 2;
		if (len > 1 && (open[2] == '#' || open[2] == '^')) {
			st = template_section(c, open + 2, len, p, end, &p);
		} else {
			st = template_variable(c, open + 2, len);
		}
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

enum ex_status template_render(const char *name, const struct template_value *values, size_t n,
			       struct buf *out)
{
	struct template_ctx c = {values, n, 0, out};
	size_t nlen = strlen(name);
	unsigned i;

	c.html = nlen >= 5 && strcmp(name + nlen - 5, ".html") == 0;
	for (i = 0; i < template_file_count; i++) {
		if (strcmp(template_files[i].name, name) == 0) {
			return template_run(&c, template_files[i].text,
					    template_files[i].text +
						    strlen(template_files[i].text));
		}
	}
	return EX_EINVAL;
}
