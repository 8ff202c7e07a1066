/* SPDX-License-Identifier: MIT */
/* dock_internal.h - the Docker client's transport and JSON helpers, shared by its files */
#ifndef DOCK_INTERNAL_H
#define DOCK_INTERNAL_H

#include <curl/curl.h>

#include "dock.h"
#include "sh_util.h"

struct dock_client {
	char *host, *socket, *base, *ca, *cert, *key;
	long timeout_ms;
	char api[16];
	CURL *h;
	char errbuf[512];
	dock_abort_fn abort_fn; /* dock_set_abort */
	void *abort_arg;
	sh_err aborted;         /* the code abort_fn ended the current request with */
};

void dock_setf(dock_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dock_curl_setup(dock_client *c, CURL *h, long timeout_ms);
void dock_describe_curl(dock_client *c, char *buf, size_t len, CURLcode rc, long oserr, const char *what);
/* Versioned URL of path ("/nodes"), negotiating the version first. */
sh_err dock_url(dock_client *c, const char *path, char *url, size_t len);
/* method path [JSON body] -> parsed JSON answer (may be NULL for empty answers). */
sh_err dock_call(dock_client *c, const char *method, const char *path, const cJSON *req, const char *what,
		 cJSON **out);

/* Print JSON for the engine: integers stay integers at any size. */
char *dock_print_json(const cJSON *j);
/* Dotted-path lookups ("Spec.Availability"); missing gives "", dflt, 0. */
const cJSON *jpath(const cJSON *o, const char *path);
void jcopy(char *dst, size_t len, const cJSON *o, const char *path);
int64_t jint(const cJSON *o, const char *path, int64_t dflt);
int64_t jtime(const cJSON *o, const char *path);
cJSON *jdup(const cJSON *o);
void urlencode(char *dst, size_t len, const char *src);
/* An object ID or name safe to put in a path. */
int dock_id_ok(const char *id);

/* Decoders (unit-tested). 0 ok, -1 malformed. */
int dock_decode_node(const cJSON *j, dock_node *n);
int dock_decode_service(const cJSON *j, dock_service *s);
int dock_decode_task(const cJSON *j, dock_task *t);
int dock_decode_container(const cJSON *j, dock_container *ct);
int dock_decode_secret(const cJSON *j, dock_secret *s);
/* raw: the event's JSON text, read for timeNano (an int64 a double cannot hold); may be NULL. */
int dock_decode_event(const cJSON *j, const char *raw, size_t rawlen, dock_event *e);

#endif
