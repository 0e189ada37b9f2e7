/* counter.c - this process's event counters (see counter.h). */
#include "common/counter.h"

#include <stdio.h>
#include <string.h>

static struct counter counter_table[COUNTER_MAX];
static size_t counter_used;
static unsigned long long counter_lost;

static struct counter *counter_find(const char *metric, const char *labels)
{
	struct counter *c;
	size_t i;

	for (i = 0; i < counter_used; i++) {
		c = &counter_table[i];
		if (strcmp(c->metric, metric) == 0 && strcmp(c->labels, labels) == 0) {
			return c;
		}
	}
	if (counter_used == COUNTER_MAX || strlen(metric) >= COUNTER_NAME_MAX ||
	    strlen(labels) >= COUNTER_LABELS_MAX) {
		return NULL;
	}
	c = &counter_table[counter_used++];
	snprintf(c->metric, sizeof(c->metric), "%s", metric);
	snprintf(c->labels, sizeof(c->labels), "%s", labels);
	c->value = 0;
	return c;
}

void counter_add(const char *metric, const char *labels, double delta)
{
	struct counter *c = counter_find(metric, labels);

	if (c == NULL) {
		counter_lost++;
		return;
	}
	c->value += delta;
}

void counter_label(char *out, size_t size, const char *value, size_t len)
{
	size_t i;

	if (len == 0) {
		snprintf(out, size, "unknown");
		return;
	}
	for (i = 0; i < len && i + 1 < size; i++) {
		char ch = value[i];
		int safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';

		out[i] = '_';
		if (safe) {
			out[i] = ch;
		}
	}
	out[i] = '\0';
}

void counter_observe(const char *metric, double value, const double *bounds,
		     const char *const *bound_labels, size_t nbounds)
{
	char name[COUNTER_NAME_MAX], labels[COUNTER_LABELS_MAX];
	size_t i;

	snprintf(name, sizeof(name), "%s_bucket", metric);
	for (i = 0; i < nbounds; i++) {
		if (value <= bounds[i]) {
			snprintf(labels, sizeof(labels), "le=\"%s\"", bound_labels[i]);
			counter_add(name, labels, 1);
		}
	}
	counter_add(name, "le=\"+Inf\"", 1);
	snprintf(name, sizeof(name), "%s_sum", metric);
	counter_add(name, "", value);
	snprintf(name, sizeof(name), "%s_count", metric);
	counter_add(name, "", 1);
}

size_t counter_pending(struct counter *out)
{
	memcpy(out, counter_table, counter_used * sizeof(*out));
	return counter_used;
}

void counter_commit(const struct counter *written, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && i < counter_used; i++) {
		counter_table[i].value -= written[i].value;
	}
	/* Keep the ones still holding events, in order. */
	for (i = 0; i < counter_used; i++) {
		if (counter_table[i].value != 0) {
			if (i != j) {
				counter_table[j] = counter_table[i];
			}
			j++;
		}
	}
	counter_used = j;
}

unsigned long long counter_dropped(void)
{
	return counter_lost;
}

void counter_reset(void)
{
	counter_used = 0;
	counter_lost = 0;
}
