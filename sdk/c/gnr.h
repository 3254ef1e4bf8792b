/*
 * gnr.h - C SDK for gnrhost WASM page handlers, ABI v1 (abi/wasm-abi.md).
 *
 * Build a handler with
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wl,--strip-all \
 *         -I sdk/c -o page.wasm page.c sdk/c/gnr.c
 *
 * gnr.c exports gnr_abi_v1. A handler defines its entry points with GNR_ENTRY
 * (gnr_page_load and gnr_page_rpc, plus gnr_page_event / gnr_page_close if it asks for
 * those features with GNR_FEATURES). An entry point returns GNR_OK after setting its
 * reply, or GNR_ERROR after an error reply; the gnr_reply and gnr_error helpers below
 * return that status, so an entry point can end with `return gnr_reply(...)`.
 *
 * Functions that read data from the host return its length (>= 0) and a malloc'd copy
 * in *out, with a NUL after it (not counted); free it with free(). On a negative result
 * (GNR_NOT_FOUND, ...) *out is NULL. Allocation failure traps: the host fails the call
 * and drops the instance.
 */
#ifndef GNR_H
#define GNR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Entry point results. */
#define GNR_OK 0
#define GNR_ERROR 1

/* Host function error codes (ABI section 4). */
#define GNR_NOT_FOUND (-1)
#define GNR_INVALID (-2)
#define GNR_TOO_LARGE (-3)
#define GNR_NOT_PERMITTED (-4)
#define GNR_UNAVAILABLE (-5)

/* Feature bits (ABI section 5). */
#define GNR_FEATURE_EVENTS 1
#define GNR_FEATURE_CLOSE 2
#define GNR_FEATURE_PUSH 4

/* Log levels. */
#define GNR_LOG_DEBUG 0
#define GNR_LOG_INFO 1
#define GNR_LOG_WARN 2
#define GNR_LOG_ERROR 3

/* ---- Exports ---------------------------------------------------------------------- */

/* GNR_ENTRY(gnr_page_load) { ... } defines the exported entry point gnr_page_load. */
#define GNR_ENTRY(name) __attribute__((export_name(#name))) int32_t name(void)

/* GNR_FEATURES(bits) defines gnr_features, answering the features both sides have. */
#define GNR_FEATURES(bits)                                                                 \
	__attribute__((export_name("gnr_features"))) int64_t gnr_features(int64_t host)    \
	{                                                                                  \
		return host & (int64_t)(bits);                                             \
	}

/* ---- The host functions, as imported (ABI section 3) ------------------------------- */

#define GNR_IMPORT(name) __attribute__((import_module("gnr"), import_name(name)))

GNR_IMPORT("input") int32_t gnr_host_input(char *buf, uint32_t cap);
GNR_IMPORT("method") int32_t gnr_host_method(char *buf, uint32_t cap);
GNR_IMPORT("page_info") int32_t gnr_host_page_info(char *buf, uint32_t cap);
GNR_IMPORT("reply") int32_t gnr_host_reply(const char *ptr, uint32_t len);
GNR_IMPORT("log") void gnr_host_log(int32_t level, const char *ptr, uint32_t len);
GNR_IMPORT("store_get")
int32_t gnr_host_store_get(const char *key, uint32_t key_len, char *buf, uint32_t cap);
GNR_IMPORT("store_set")
int32_t gnr_host_store_set(const char *key, uint32_t key_len, const char *val, uint32_t val_len);
GNR_IMPORT("store_delete") int32_t gnr_host_store_delete(const char *key, uint32_t key_len);
GNR_IMPORT("store_keys") int32_t gnr_host_store_keys(char *buf, uint32_t cap);
GNR_IMPORT("user_get")
int32_t gnr_host_user_get(const char *key, uint32_t key_len, char *buf, uint32_t cap);
GNR_IMPORT("user_set")
int32_t gnr_host_user_set(const char *key, uint32_t key_len, const char *val, uint32_t val_len);
GNR_IMPORT("global_get")
int32_t gnr_host_global_get(const char *key, uint32_t key_len, char *buf, uint32_t cap);
GNR_IMPORT("global_set")
int32_t gnr_host_global_set(const char *key, uint32_t key_len, const char *val, uint32_t val_len);
GNR_IMPORT("push") int32_t gnr_host_push(const char *ptr, uint32_t len);
GNR_IMPORT("subscribe") int32_t gnr_host_subscribe(const char *table, uint32_t table_len);
GNR_IMPORT("unsubscribe") int32_t gnr_host_unsubscribe(const char *table, uint32_t table_len);
GNR_IMPORT("publish")
int32_t gnr_host_publish(const char *table, uint32_t table_len, const char *ev, uint32_t ev_len);
GNR_IMPORT("now_ms") int64_t gnr_host_now_ms(void);

/* ---- Helpers: keys and tables are C strings, JSON values are (pointer, length) ---- */

/* Whole values from the host, malloc'd and NUL-terminated (see the top of this file). */
int32_t gnr_input(char **out);                   /* the call's input JSON */
int32_t gnr_method(char **out);                  /* the RPC method name */
int32_t gnr_page_info(char **out);               /* {"page_id",...} */
int32_t gnr_store_keys(char **out);              /* JSON array of keys */
int32_t gnr_store_get(const char *key, char **out);  /* GNR_NOT_FOUND when unset */
int32_t gnr_user_get(const char *key, char **out);
int32_t gnr_global_get(const char *key, char **out);

/* Writes; they return 0 or a negative error code. */
int32_t gnr_store_set(const char *key, const char *json, size_t len);
int32_t gnr_store_delete(const char *key);
int32_t gnr_user_set(const char *key, const char *json, size_t len);
int32_t gnr_global_set(const char *key, const char *json, size_t len);
int32_t gnr_push(const char *json, size_t len);
int32_t gnr_subscribe(const char *table);
int32_t gnr_unsubscribe(const char *table);
int32_t gnr_publish(const char *table, const char *ev_json, size_t len);
void gnr_log(int32_t level, const char *msg);

/* Replies; they return the status for the entry point to return. */
int32_t gnr_reply(const char *data, size_t len); /* GNR_OK, or GNR_ERROR if refused */
int32_t gnr_reply_str(const char *s);            /* gnr_reply of a C string */
/* {"code":code,"message":message}; returns GNR_ERROR. */
int32_t gnr_error(const char *code, const char *message);
/* {"code":"unknown_method","message":"unknown method: NAME"}; returns GNR_ERROR. */
int32_t gnr_unknown_method(const char *method, size_t len);
/* For a failed host function: {"code":"guest_error","message":"gnr: not found"} etc. */
int32_t gnr_fail(int32_t rc);

/* 1 if the n bytes at s are the C string lit (for comparing method names). */
static inline int gnr_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* ---- A growing, NUL-terminated byte buffer for building replies ------------------- */

typedef struct {
	char *data; /* NULL until something is added; always NUL-terminated after */
	size_t len;
	size_t cap;
} gnr_buf;

void gnr_buf_add(gnr_buf *b, const char *s, size_t n);
void gnr_buf_str(gnr_buf *b, const char *s);                   /* a C string */
void gnr_buf_int(gnr_buf *b, int64_t v);                        /* decimal */
void gnr_buf_json_string(gnr_buf *b, const char *s, size_t n);  /* quoted and escaped */
void gnr_buf_free(gnr_buf *b);

/* ---- Reading JSON ------------------------------------------------------------------ */

/* The raw value of field name in the JSON object json[0..len) (the last one if the name
 * repeats; escaped names are compared decoded), with its length in *vlen; NULL when
 * json is not an object or has no such field. Only the top level is searched. */
const char *gnr_json_field(const char *json, size_t len, const char *name, size_t *vlen);

/* Decodes the JSON string token v[0..n) into a malloc'd, NUL-terminated UTF-8 string;
 * returns its length, or -1 if v is not a string. */
int32_t gnr_json_string(const char *v, size_t n, char **out);

/* Parses the JSON integer v[0..n) (no fraction or exponent); 0 on success, -1 if not. */
int gnr_json_int(const char *v, size_t n, int64_t *out);

/* Removes the whitespace between the tokens of the JSON text json[0..n) in place (so
 * values written by others compare byte for byte); returns the new length. */
size_t gnr_json_compact(char *json, size_t n);

/* Appends to b the JSON array arr[0..n) with elem[0..en) added at its end; -1 if arr is
 * not an array. */
int gnr_json_array_append(gnr_buf *b, const char *arr, size_t n, const char *elem, size_t en);

#endif
