/* The counter example page (examples/pages/README.md) in C. */
#include <stdlib.h>

#include "gnr.h"

/* Reads the integer at key with get (gnr_store_get or gnr_user_get); 0 when unset.
 * Returns 0 or a host error code. */
static int32_t get_int(int32_t (*get)(const char *, char **), const char *key, int64_t *v)
{
	char *s;
	int32_t n = get(key, &s);
	*v = 0;
	if (n == GNR_NOT_FOUND)
		return 0;
	if (n < 0)
		return n;
	int bad = gnr_json_int(s, n, v);
	free(s);
	return bad ? GNR_INVALID : 0;
}

/* The page's count and the user's total. */
static int32_t get_counts(int64_t *count, int64_t *total)
{
	int32_t rc = get_int(gnr_store_get, "count", count);
	return rc < 0 ? rc : get_int(gnr_user_get, "total", total);
}

GNR_ENTRY(gnr_page_load)
{
	int64_t count, total;
	int32_t rc = get_counts(&count, &total);
	if (rc < 0)
		return gnr_fail(rc);
	gnr_buf b = {0};
	gnr_buf_str(&b, "<!doctype html>\n"
			"<html><head><meta charset=\"utf-8\"><title>Counter</title></head>\n"
			"<body data-gnr-example=\"counter\">\n"
			"<h1>Counter</h1>\n"
			"<p>This page: <span id=\"count\">");
	gnr_buf_int(&b, count);
	gnr_buf_str(&b, "</span> &middot; all your pages: <span id=\"total\">");
	gnr_buf_int(&b, total);
	gnr_buf_str(&b, "</span></p>\n"
			"<button id=\"inc\">+1</button>\n"
			"<script src=\"/_gnr/client.js\"></script>\n"
			"<script src=\"/_gnr/examples/counter.js\"></script>\n"
			"</body></html>\n");
	rc = gnr_reply(b.data, b.len);
	gnr_buf_free(&b);
	return rc;
}

/* Replies {"count":count,"total":total}. */
static int32_t reply_counts(int64_t count, int64_t total)
{
	gnr_buf b = {0};
	gnr_buf_str(&b, "{\"count\":");
	gnr_buf_int(&b, count);
	gnr_buf_str(&b, ",\"total\":");
	gnr_buf_int(&b, total);
	gnr_buf_str(&b, "}");
	int32_t status = gnr_reply(b.data, b.len);
	gnr_buf_free(&b);
	return status;
}

static int32_t increment(void)
{
	int64_t count, total;
	int32_t rc = get_counts(&count, &total);
	if (rc < 0)
		return gnr_fail(rc);
	count++;
	total++;
	gnr_buf b = {0};
	gnr_buf_int(&b, count);
	rc = gnr_store_set("count", b.data, b.len);
	b.len = 0;
	gnr_buf_int(&b, total);
	if (rc == 0)
		rc = gnr_user_set("total", b.data, b.len);
	gnr_buf_free(&b);
	if (rc < 0)
		return gnr_fail(rc);
	return reply_counts(count, total);
}

GNR_ENTRY(gnr_page_rpc)
{
	char *method;
	int32_t n = gnr_method(&method);
	if (n < 0)
		return gnr_fail(n);
	int32_t status;
	if (gnr_is(method, n, "increment")) {
		status = increment();
	} else if (gnr_is(method, n, "get")) {
		int64_t count, total;
		int32_t rc = get_counts(&count, &total);
		status = rc < 0 ? gnr_fail(rc) : reply_counts(count, total);
	} else {
		status = gnr_unknown_method(method, n);
	}
	free(method);
	return status;
}

/* No events, no close, no push. */
GNR_FEATURES(0)
