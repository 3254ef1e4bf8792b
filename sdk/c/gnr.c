/* gnr.c - C SDK for gnrhost WASM page handlers, ABI v1. See gnr.h. */
#include "gnr.h"

#include <stdlib.h>

/* A module exports exactly one gnr_abi_vN: this SDK speaks version 1. */
__attribute__((export_name("gnr_abi_v1"))) void gnr_abi_v1(void) {}

static void *must_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		__builtin_trap();
	return p;
}

/* ---- Reading whole values: the (buf, cap) -> n protocol --------------------------- */

typedef int32_t (*plain_fn)(char *buf, uint32_t cap);
typedef int32_t (*keyed_fn)(const char *key, uint32_t key_len, char *buf, uint32_t cap);

/* First buffer size tried; most values fit. */
#define FIRST_CAP 1024

/* Calls plain(buf, cap) or keyed(key, ..., buf, cap). When the data is longer than cap
 * the host writes nothing and returns the length, so we call again with that size. */
static int32_t read_all(plain_fn plain, keyed_fn keyed, const char *key, char **out)
{
	uint32_t cap = FIRST_CAP;
	*out = NULL;
	for (;;) {
		char *buf = must_alloc((size_t)cap + 1);
		int32_t n = plain ? plain(buf, cap) : keyed(key, strlen(key), buf, cap);
		if (n >= 0 && (uint32_t)n <= cap) {
			buf[n] = 0;
			*out = buf;
			return n;
		}
		free(buf);
		if (n < 0)
			return n;
		cap = (uint32_t)n;
	}
}

int32_t gnr_input(char **out) { return read_all(gnr_host_input, NULL, NULL, out); }
int32_t gnr_method(char **out) { return read_all(gnr_host_method, NULL, NULL, out); }
int32_t gnr_page_info(char **out) { return read_all(gnr_host_page_info, NULL, NULL, out); }
int32_t gnr_store_keys(char **out) { return read_all(gnr_host_store_keys, NULL, NULL, out); }

int32_t gnr_store_get(const char *key, char **out)
{
	return read_all(NULL, gnr_host_store_get, key, out);
}

int32_t gnr_user_get(const char *key, char **out)
{
	return read_all(NULL, gnr_host_user_get, key, out);
}

int32_t gnr_global_get(const char *key, char **out)
{
	return read_all(NULL, gnr_host_global_get, key, out);
}

/* ---- Writes ------------------------------------------------------------------------ */

int32_t gnr_store_set(const char *key, const char *json, size_t len)
{
	return gnr_host_store_set(key, strlen(key), json, len);
}

int32_t gnr_store_delete(const char *key) { return gnr_host_store_delete(key, strlen(key)); }

int32_t gnr_user_set(const char *key, const char *json, size_t len)
{
	return gnr_host_user_set(key, strlen(key), json, len);
}

int32_t gnr_global_set(const char *key, const char *json, size_t len)
{
	return gnr_host_global_set(key, strlen(key), json, len);
}

int32_t gnr_push(const char *json, size_t len) { return gnr_host_push(json, len); }
int32_t gnr_subscribe(const char *table) { return gnr_host_subscribe(table, strlen(table)); }

int32_t gnr_unsubscribe(const char *table)
{
	return gnr_host_unsubscribe(table, strlen(table));
}

int32_t gnr_publish(const char *table, const char *ev_json, size_t len)
{
	return gnr_host_publish(table, strlen(table), ev_json, len);
}

void gnr_log(int32_t level, const char *msg) { gnr_host_log(level, msg, strlen(msg)); }

/* ---- Replies ----------------------------------------------------------------------- */

/* Replies {"code":code,"message":prefix+msg[0..n)} and returns GNR_ERROR. */
static int32_t error_reply(const char *code, const char *prefix, const char *msg, size_t n)
{
	gnr_buf m = {0}, b = {0};
	gnr_buf_str(&m, prefix);
	gnr_buf_add(&m, msg, n);
	gnr_buf_str(&b, "{\"code\":");
	gnr_buf_json_string(&b, code, strlen(code));
	gnr_buf_str(&b, ",\"message\":");
	gnr_buf_json_string(&b, m.data, m.len);
	gnr_buf_str(&b, "}");
	gnr_host_reply(b.data, b.len);
	gnr_buf_free(&m);
	gnr_buf_free(&b);
	return GNR_ERROR;
}

int32_t gnr_error(const char *code, const char *message)
{
	return error_reply(code, "", message, strlen(message));
}

int32_t gnr_unknown_method(const char *method, size_t len)
{
	return error_reply("unknown_method", "unknown method: ", method, len);
}

int32_t gnr_fail(int32_t rc)
{
	const char *msg;
	switch (rc) {
	case GNR_NOT_FOUND: msg = "gnr: not found"; break;
	case GNR_INVALID: msg = "gnr: invalid argument"; break;
	case GNR_TOO_LARGE: msg = "gnr: too large"; break;
	case GNR_NOT_PERMITTED: msg = "gnr: not permitted"; break;
	case GNR_UNAVAILABLE: msg = "gnr: unavailable"; break;
	default: msg = "gnr: host error"; break;
	}
	return gnr_error("guest_error", msg);
}

int32_t gnr_reply(const char *data, size_t len)
{
	int32_t rc = gnr_host_reply(data, len);
	return rc < 0 ? gnr_fail(rc) : GNR_OK;
}

int32_t gnr_reply_str(const char *s) { return gnr_reply(s, strlen(s)); }

/* ---- gnr_buf ------------------------------------------------------------------------ */

static void reserve(gnr_buf *b, size_t n)
{
	if (b->data && b->len + n < b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap <= b->len + n)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		__builtin_trap();
	b->data = d;
	b->cap = cap;
}

void gnr_buf_add(gnr_buf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
}

void gnr_buf_str(gnr_buf *b, const char *s) { gnr_buf_add(b, s, strlen(s)); }

void gnr_buf_int(gnr_buf *b, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do
		*--p = '0' + u % 10;
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	gnr_buf_add(b, p, tmp + sizeof tmp - p);
}

/* Escapes like every gnr SDK: ", \ and the control characters (\b \f \n \r \t, others
 * as \u00xx); everything else, including non-ASCII UTF-8, is copied as it is. */
void gnr_buf_json_string(gnr_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	gnr_buf_add(b, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', 0};
		size_t elen = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if (c >= 0x20)
				continue;
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		gnr_buf_add(b, s + start, i - start);
		gnr_buf_add(b, esc, elen);
		start = i + 1;
	}
	gnr_buf_add(b, s + start, n - start);
	gnr_buf_add(b, "\"", 1);
}

void gnr_buf_free(gnr_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- Reading JSON ------------------------------------------------------------------ */
/* The host only hands out valid JSON, so the scanner below checks structure, not every
 * detail of the grammar. */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p is at an opening quote: returns the position after the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Returns the end of the JSON value at p, or NULL. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < end) {
			if (*p == '"') {
				p = skip_string(p, end);
				if (!p)
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']')
				if (--depth == 0)
					return p + 1;
			p++;
		}
		return NULL;
	}
	const char *start = p; /* number, true, false, null */
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
	       *p != '\n' && *p != '\r')
		p++;
	return p > start ? p : NULL;
}

const char *gnr_json_field(const char *json, size_t len, const char *name, size_t *vlen)
{
	const char *end = json + len, *found = NULL;
	const char *p = skip_ws(json, end);
	if (p >= end || *p != '{')
		return NULL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return NULL;
	while (p < end && *p == '"') {
		const char *key = p;
		p = skip_string(p, end);
		if (!p)
			return NULL;
		size_t klen = p - key;
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		const char *v = skip_ws(p + 1, end);
		p = skip_value(v, end);
		if (!p)
			return NULL;
		char *k = NULL;
		int32_t kn = memchr(key, '\\', klen) ? gnr_json_string(key, klen, &k) : -1;
		if (kn >= 0 ? gnr_is(k, kn, name) : gnr_is(key + 1, klen - 2, name)) {
			found = v;
			*vlen = p - v;
		}
		free(k);
		p = skip_ws(p, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
		else
			break;
	}
	return found;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the 4 hex digits at p (p + 4 <= end); -1 if they are not hex. */
static int32_t hex4(const char *p, const char *end)
{
	int32_t v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void add_utf8(gnr_buf *b, uint32_t c)
{
	char u[4];
	size_t n;
	if (c < 0x80) {
		u[0] = c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = 0xC0 | c >> 6;
		u[1] = 0x80 | (c & 0x3F);
		n = 2;
	} else if (c < 0x10000) {
		u[0] = 0xE0 | c >> 12;
		u[1] = 0x80 | (c >> 6 & 0x3F);
		u[2] = 0x80 | (c & 0x3F);
		n = 3;
	} else {
		u[0] = 0xF0 | c >> 18;
		u[1] = 0x80 | (c >> 12 & 0x3F);
		u[2] = 0x80 | (c >> 6 & 0x3F);
		u[3] = 0x80 | (c & 0x3F);
		n = 4;
	}
	gnr_buf_add(b, u, n);
}

int32_t gnr_json_string(const char *v, size_t n, char **out)
{
	const char *p = v, *end = v + n;
	gnr_buf b = {0};
	*out = NULL;
	if (n < 2 || *p != '"' || end[-1] != '"')
		return -1;
	gnr_buf_add(&b, "", 0);
	for (p++; p < end - 1; p++) {
		if (*p != '\\') {
			const char *q = p;
			while (q < end - 1 && *q != '\\')
				q++;
			gnr_buf_add(&b, p, q - p);
			p = q - 1;
			continue;
		}
		if (++p >= end - 1)
			goto bad;
		switch (*p) {
		case '"': case '\\': case '/': gnr_buf_add(&b, p, 1); break;
		case 'b': gnr_buf_add(&b, "\b", 1); break;
		case 'f': gnr_buf_add(&b, "\f", 1); break;
		case 'n': gnr_buf_add(&b, "\n", 1); break;
		case 'r': gnr_buf_add(&b, "\r", 1); break;
		case 't': gnr_buf_add(&b, "\t", 1); break;
		case 'u': {
			int32_t c = hex4(p + 1, end - 1);
			if (c < 0)
				goto bad;
			p += 4;
			if (c >= 0xD800 && c < 0xDC00) { /* a pair \uD8xx\uDCxx is one character */
				int32_t lo = end - 1 - p > 6 && p[1] == '\\' && p[2] == 'u'
						     ? hex4(p + 3, end - 1) : -1;
				if (lo >= 0xDC00 && lo < 0xE000) {
					c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
					p += 6;
				} else {
					c = 0xFFFD;
				}
			} else if (c >= 0xDC00 && c < 0xE000) {
				c = 0xFFFD; /* a lone surrogate is not a character */
			}
			add_utf8(&b, (uint32_t)c);
			break;
		}
		default:
			goto bad;
		}
	}
	*out = b.data;
	return (int32_t)b.len;
bad:
	gnr_buf_free(&b);
	return -1;
}

int gnr_json_int(const char *v, size_t n, int64_t *out)
{
	const char *p = v, *end = v + n;
	int neg = 0;
	uint64_t u = 0;
	p = skip_ws(p, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || u > (UINT64_C(1) << 63) / 10)
			return -1;
		u = u * 10 + (*p - '0');
	}
	if (u > (uint64_t)INT64_MAX + neg)
		return -1;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

size_t gnr_json_compact(char *json, size_t n)
{
	char *end = json + n, *w = json;
	for (const char *p = json; p < end;) {
		if (*p == '"') {
			const char *q = skip_string(p, end);
			if (!q)
				q = end;
			memmove(w, p, q - p);
			w += q - p;
			p = q;
		} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			p++;
		} else {
			*w++ = *p++;
		}
	}
	if (w < end)
		*w = 0;
	return w - json;
}

int gnr_json_array_append(gnr_buf *b, const char *arr, size_t n, const char *elem, size_t en)
{
	const char *end = arr + n;
	const char *p = skip_ws(arr, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end - p < 2 || *p != '[' || end[-1] != ']')
		return -1;
	const char *last = end - 1; /* the closing ] */
	int empty = skip_ws(p + 1, last) == last;
	gnr_buf_add(b, p, last - p);
	if (!empty)
		gnr_buf_add(b, ",", 1);
	gnr_buf_add(b, elem, en);
	gnr_buf_add(b, "]", 1);
	return 0;
}
