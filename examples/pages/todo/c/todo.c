/* The todo example page (examples/pages/README.md) in C: a shared list in the global
 * register, copied into each page's store and kept fresh by dbevents. */
#include <stdlib.h>

#include "gnr.h"

#define TABLE "todo.item"

static const char html[] =
	"<!doctype html>\n"
	"<html><head><meta charset=\"utf-8\"><title>Todo</title></head>\n"
	"<body data-gnr-example=\"todo\">\n"
	"<h1>Todo</h1>\n"
	"<ul id=\"items\"></ul>\n"
	"<input id=\"text\" placeholder=\"New item\"> <button id=\"add\">Add</button>\n"
	"<script src=\"/_gnr/client.js\"></script>\n"
	"<script src=\"/_gnr/examples/todo.js\"></script>\n"
	"</body></html>\n";

/* Reads a list with get, compacted; "[]" when unset. Returns its length or a host
 * error code. */
static int32_t get_list(int32_t (*get)(const char *, char **), const char *key, char **out)
{
	int32_t n = get(key, out);
	if (n >= 0)
		return gnr_json_compact(*out, n);
	if (n != GNR_NOT_FOUND)
		return n;
	*out = malloc(3);
	if (!*out)
		__builtin_trap();
	memcpy(*out, "[]", 3);
	return 2;
}

/* Replies or pushes prefix + items + "}". */
static int32_t wrap(int push, const char *prefix, const char *items, size_t n)
{
	gnr_buf b = {0};
	gnr_buf_str(&b, prefix);
	gnr_buf_add(&b, items, n);
	gnr_buf_str(&b, "}");
	int32_t r = push ? gnr_push(b.data, b.len) : gnr_reply(b.data, b.len);
	gnr_buf_free(&b);
	return r;
}

/* Copies the global list into the page store; returns its length or an error code. */
static int32_t refresh(char **items)
{
	int32_t n = get_list(gnr_global_get, "todo.items", items);
	if (n < 0)
		return n;
	int32_t rc = gnr_store_set("items", *items, n);
	if (rc < 0) {
		free(*items);
		return rc;
	}
	return n;
}

GNR_ENTRY(gnr_page_load)
{
	char *items;
	int32_t rc = gnr_subscribe(TABLE);
	if (rc < 0 || (rc = refresh(&items)) < 0)
		return gnr_fail(rc);
	free(items);
	return gnr_reply(html, sizeof html - 1);
}

/* Reads the text param of add into a malloc'd string. Returns its length, 0 if it is
 * missing, not a string or empty (then *text is NULL), or a host error code. */
static int32_t text_param(char **text)
{
	char *in;
	size_t vlen;
	*text = NULL;
	int32_t n = gnr_input(&in);
	if (n < 0)
		return n;
	const char *v = gnr_json_field(in, n, "text", &vlen);
	n = v ? gnr_json_string(v, vlen, text) : 0;
	free(in);
	if (n <= 0) {
		free(*text);
		*text = NULL;
		return 0;
	}
	return n;
}

static int32_t add(void)
{
	char *text;
	int32_t rc = text_param(&text);
	if (rc < 0)
		return gnr_fail(rc);
	if (rc == 0)
		return gnr_error("bad_params", "add needs a non-empty text");

	gnr_buf item = {0}, list = {0};
	gnr_buf_str(&item, "{\"text\":");
	gnr_buf_json_string(&item, text, rc);
	gnr_buf_str(&item, "}");
	free(text);

	char *items;
	rc = get_list(gnr_global_get, "todo.items", &items);
	if (rc >= 0) {
		if (gnr_json_array_append(&list, items, rc, item.data, item.len) < 0)
			rc = GNR_INVALID;
		free(items);
	}
	if (rc >= 0)
		rc = gnr_global_set("todo.items", list.data, list.len);
	if (rc >= 0)
		rc = gnr_store_set("items", list.data, list.len);
	if (rc >= 0)
		rc = gnr_publish(TABLE, "{\"action\":\"I\"}", 14);
	int32_t status = rc < 0 ? gnr_fail(rc) : wrap(0, "{\"items\":", list.data, list.len);
	gnr_buf_free(&item);
	gnr_buf_free(&list);
	return status;
}

static int32_t list(void)
{
	char *items;
	int32_t n = get_list(gnr_store_get, "items", &items);
	if (n < 0)
		return gnr_fail(n);
	int32_t status = wrap(0, "{\"items\":", items, n);
	free(items);
	return status;
}

GNR_ENTRY(gnr_page_rpc)
{
	char *method;
	int32_t n = gnr_method(&method);
	if (n < 0)
		return gnr_fail(n);
	int32_t status;
	if (gnr_is(method, n, "add"))
		status = add();
	else if (gnr_is(method, n, "list"))
		status = list();
	else
		status = gnr_unknown_method(method, n);
	free(method);
	return status;
}

GNR_ENTRY(gnr_page_event)
{
	char *items;
	int32_t n = refresh(&items);
	if (n < 0)
		return gnr_fail(n);
	int32_t rc = wrap(1, "{\"type\":\"todo.items\",\"items\":", items, n);
	free(items);
	return rc < 0 ? gnr_fail(rc) : GNR_OK;
}

GNR_ENTRY(gnr_page_close)
{
	gnr_log(GNR_LOG_DEBUG, "todo page closed");
	return GNR_OK;
}

GNR_FEATURES(GNR_FEATURE_EVENTS | GNR_FEATURE_CLOSE | GNR_FEATURE_PUSH)
