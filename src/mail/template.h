/* template.h - the wording of the mails: text files with named
 * placeholders under src/mail/templates/, compiled in at build time by
 * src/mail/embed-templates.sh, so the words can change without touching
 * C control flow.
 *
 * The syntax is a small subset of Mustache:
 *	{{name}}		the value called name
 *	{{name|indent}}		the value, each non-empty line indented by two spaces
 *	{{#name}}...{{/name}}	what is inside, only when the value is not ""
 *	{{^name}}...{{/name}}	what is inside, only when the value is ""
 * Sections of the same name do not nest.  A line holding nothing but one
 * section tag is dropped whole, so tags can stand on lines of their own;
 * every other line ends in CRLF.  Values are escaped for where they go: in
 * a template whose name ends in ".html", & < > " ' become entities; in all
 * of them '\n' becomes CRLF.
 */
#ifndef EXPORTD_TEMPLATE_H
#define EXPORTD_TEMPLATE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

struct template_value {
	const char *name;
	const char *value; /* NULL = "" */
};

/* Append template name (the file name, e.g. "complete.html") rendered with
 * the n values to out.  EX_EINVAL for an unknown template, a placeholder
 * without a value or an unclosed section: mistakes in a template, which
 * the unit tests render; EX_ETOOBIG / EX_ENOMEM from out. */
enum ex_status template_render(const char *name, const struct template_value *values, size_t n,
			       struct buf *out) EX_MUST_CHECK;

/* The compiled-in files, written by embed-templates.sh; read through
 * template_render only. */
struct template_file {
	const char *name;
	const char *text;
};
extern const struct template_file template_files[];
extern const unsigned template_file_count;

#endif
