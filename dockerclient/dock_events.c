/* SPDX-License-Identifier: MIT */
/* dock_events.c - the Engine's /events stream, one event at a time, resumed without loss or repeats */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dock_internal.h"

#define MAX_LINE (1u << 20)
#define SEEN_MAX 64

struct dock_events {
	dock_client *c;
	char *filters;
	CURLM *m;
	CURL *h;
	int active;
	sh_buf in;
	int too_large;
	int64_t last_ns;               /* time of the last event delivered */
	char seen[SEEN_MAX][256];      /* events delivered at last_ns (dedup on resume) */
	int nseen;
	int64_t retry_at;
	long backoff_ms, reconnects, streams;
	sh_err last_err;
	char errbuf[512];
};

const char *dock_events_errmsg(const dock_events *ev)
{
	return ev->errbuf;
}

long dock_events_reconnects(const dock_events *ev)
{
	return ev->reconnects;
}

static int64_t raw_i64(const char *raw, size_t len, const char *field)
{
	size_t fl = strlen(field);
	for (size_t i = 0; raw && i + fl < len; i++) {
		if (memcmp(raw + i, field, fl))
			continue;
		i += fl;
		while (i < len && (raw[i] == ' ' || raw[i] == ':'))
			i++;
		int64_t v = 0;
		while (i < len && raw[i] >= '0' && raw[i] <= '9' && v < INT64_MAX / 10)
			v = v * 10 + (raw[i++] - '0');
		return v;
	}
	return 0;
}

int dock_decode_event(const cJSON *j, const char *raw, size_t rawlen, dock_event *e)
{
	memset(e, 0, sizeof(*e));
	if (!cJSON_IsObject(j) || !cJSON_IsString(jpath(j, "Type")) || !cJSON_IsString(jpath(j, "Action")))
		return -1;
	jcopy(e->type, sizeof(e->type), j, "Type");
	jcopy(e->action, sizeof(e->action), j, "Action");
	jcopy(e->actor_id, sizeof(e->actor_id), j, "Actor.ID");
	jcopy(e->scope, sizeof(e->scope), j, "scope");
	e->time_nano = raw_i64(raw, rawlen, "\"timeNano\"");
	if (!e->time_nano)
		e->time_nano = jint(j, "timeNano", 0);
	if (!e->time_nano)
		e->time_nano = jint(j, "time", 0) * SH_NS_PER_S;
	e->attributes = jdup(jpath(j, "Actor.Attributes"));
	return 0;
}

void dock_event_free(dock_event *e)
{
	if (e) {
		cJSON_Delete(e->attributes);
		e->attributes = NULL;
	}
}

static size_t ev_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	dock_events *ev = ud;
	size_t n = size * nmemb;
	if (ev->in.len + n > MAX_LINE) {
		ev->too_large = 1;
		return 0;
	}
	return sh_buf_add(&ev->in, ptr, n) ? 0 : n;
}

static void stop_stream(dock_events *ev)
{
	if (ev->h) {
		curl_multi_remove_handle(ev->m, ev->h);
		curl_easy_cleanup(ev->h);
		ev->h = NULL;
	}
	ev->active = 0;
	sh_buf_release(&ev->in);
}

static sh_err start_stream(dock_events *ev)
{
	char query[2048] = "";
	size_t q = 0;
	if (ev->last_ns > 0)
		q += (size_t)snprintf(query + q, sizeof(query) - q, "?since=%lld.%09lld",
				      (long long)(ev->last_ns / SH_NS_PER_S), (long long)(ev->last_ns % SH_NS_PER_S));
	if (ev->filters) {
		char enc[1500];
		urlencode(enc, sizeof(enc), ev->filters);
		snprintf(query + q, sizeof(query) - q, "%cfilters=%s", q ? '&' : '?', enc);
	}
	char path[2100], url[2400];
	snprintf(path, sizeof(path), "/events%s", query);
	sh_err e = dock_url(ev->c, path, url, sizeof(url));
	if (e) {
		snprintf(ev->errbuf, sizeof(ev->errbuf), "%s", dock_errmsg(ev->c));
		return e;
	}
	ev->h = curl_easy_init();
	if (!ev->h)
		return SH_E_NOMEM;
	dock_curl_setup(ev->c, ev->h, 0);
	curl_easy_setopt(ev->h, CURLOPT_URL, url);
	curl_easy_setopt(ev->h, CURLOPT_WRITEFUNCTION, ev_write);
	curl_easy_setopt(ev->h, CURLOPT_WRITEDATA, ev);
	curl_multi_add_handle(ev->m, ev->h);
	ev->active = 1;
	ev->too_large = 0;
	if (ev->streams++)
		ev->reconnects++;
	return SH_OK;
}

sh_err dock_events_open(dock_client *c, const char *filters_json, int64_t since_ns, dock_events **out)
{
	*out = NULL;
	if (filters_json) {
		cJSON *f = cJSON_Parse(filters_json);
		int ok = cJSON_IsObject(f);
		cJSON_Delete(f);
		if (!ok) {
			dock_setf(c, "invalid event filters '%s' (want a JSON object of arrays)", filters_json);
			return SH_E_INVAL;
		}
	}
	dock_events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return SH_E_NOMEM;
	ev->c = c;
	ev->filters = filters_json ? strdup(filters_json) : NULL;
	ev->m = curl_multi_init();
	ev->backoff_ms = 100;
	/* from now: the engine's clock decides; start from our wall clock */
	ev->last_ns = since_ns > 0 ? since_ns : sh_real_ns();
	if (!ev->m || (filters_json && !ev->filters)) {
		dock_events_close(ev);
		return SH_E_NOMEM;
	}
	sh_err e = start_stream(ev);
	if (e) {
		dock_setf(c, "%s", ev->errbuf);
		dock_events_close(ev);
		return e;
	}
	*out = ev;
	return SH_OK;
}

void dock_events_close(dock_events *ev)
{
	if (!ev)
		return;
	stop_stream(ev);
	if (ev->m)
		curl_multi_cleanup(ev->m);
	free(ev->filters);
	free(ev);
}

static void event_key(const dock_event *e, char *k, size_t len)
{
	snprintf(k, len, "%lld/%s/%s/%s", (long long)e->time_nano, e->type, e->action, e->actor_id);
}

/* 1: deliver; 0: a repeat from before a resume */
static int fresh(dock_events *ev, const dock_event *e)
{
	if (e->time_nano < ev->last_ns)
		return 0;
	char k[256];
	event_key(e, k, sizeof(k));
	if (e->time_nano == ev->last_ns) {
		for (int i = 0; i < ev->nseen; i++)
			if (!strcmp(ev->seen[i], k))
				return 0;
	} else {
		ev->nseen = 0;
		ev->last_ns = e->time_nano;
	}
	if (ev->nseen < SEEN_MAX)
		snprintf(ev->seen[ev->nseen++], sizeof(ev->seen[0]), "%s", k);
	return 1;
}

static void failed(dock_events *ev, sh_err e, const char *why)
{
	snprintf(ev->errbuf, sizeof(ev->errbuf), "%s", why);
	ev->last_err = e;
	stop_stream(ev);
	ev->retry_at = sh_mono_ns() + ev->backoff_ms * SH_NS_PER_MS;
	ev->backoff_ms = ev->backoff_ms * 2 > 2000 ? 2000 : ev->backoff_ms * 2;
}

sh_err dock_events_next(dock_events *ev, dock_event *out, long timeout_ms)
{
	memset(out, 0, sizeof(*out));
	int64_t deadline = sh_mono_ns() + (int64_t)timeout_ms * SH_NS_PER_MS;
	for (;;) {
		char *nl;
		while (ev->in.len && (nl = memchr(ev->in.buf, '\n', ev->in.len))) {
			size_t len = (size_t)(nl - ev->in.buf);
			cJSON *j = len ? cJSON_ParseWithLength(ev->in.buf, len) : NULL;
			dock_event e;
			int bad = len && (!j || dock_decode_event(j, ev->in.buf, len, &e));
			sh_buf_consume(&ev->in, len + 1);
			if (!len)
				continue;
			if (bad) {
				cJSON_Delete(j);
				char why[300];
				snprintf(why, sizeof(why), "malformed event from engine at '%s'", ev->c->host);
				failed(ev, SH_E_PROTO, why);
				break;
			}
			cJSON_Delete(j);
			if (fresh(ev, &e)) {
				ev->backoff_ms = 100;
				ev->last_err = SH_OK;
				*out = e;
				return SH_OK;
			}
			dock_event_free(&e);
		}
		int64_t now = sh_mono_ns();
		if (!ev->active && now >= ev->retry_at) {
			sh_err e = start_stream(ev);
			if (e && e != SH_E_UNREACHABLE && e != SH_E_IO && e != SH_E_TIMEOUT)
				return e;
			if (e)
				failed(ev, e, dock_errmsg(ev->c));
		}
		if (ev->active) {
			int running;
			curl_multi_perform(ev->m, &running);
			CURLMsg *msg;
			int left;
			while ((msg = curl_multi_info_read(ev->m, &left))) {
				if (msg->msg != CURLMSG_DONE || msg->easy_handle != ev->h)
					continue;
				CURLcode rc = msg->data.result;
				long status = 0, oserr = 0;
				curl_easy_getinfo(ev->h, CURLINFO_RESPONSE_CODE, &status);
				curl_easy_getinfo(ev->h, CURLINFO_OS_ERRNO, &oserr);
				char why[400];
				if (ev->too_large)
					snprintf(why, sizeof(why), "event line from engine at '%s' exceeds %u bytes",
						 ev->c->host, MAX_LINE);
				else if (rc != CURLE_OK)
					dock_describe_curl(ev->c, why, sizeof(why), rc, oserr, "events");
				else if (status != 200)
					snprintf(why, sizeof(why), "engine at '%s' refused events: HTTP %ld", ev->c->host,
						 status);
				else
					snprintf(why, sizeof(why), "event stream from engine at '%s' ended", ev->c->host);
				/* keep complete lines that arrived before the end */
				sh_buf keep = ev->in;
				ev->in = (sh_buf)SH_BUF_INIT;
				failed(ev, rc == CURLE_OK && status == 200 ? SH_E_UNREACHABLE
					   : rc == CURLE_COULDNT_CONNECT ? SH_E_UNREACHABLE
									 : SH_E_IO,
				       why);
				ev->in = keep;
				if (ev->in.len && ev->in.buf[ev->in.len - 1] != '\n') {
					/* a truncated last line is dropped; it is re-sent after resume */
					char *last = memrchr(ev->in.buf, '\n', ev->in.len);
					ev->in.len = last ? (size_t)(last - ev->in.buf) + 1 : 0;
					ev->in.buf[ev->in.len] = '\0';
				}
				break;
			}
			if (ev->in.len && memchr(ev->in.buf, '\n', ev->in.len))
				continue;
		}
		now = sh_mono_ns();
		if (now >= deadline)
			return ev->last_err && !ev->active ? (ev->last_err == SH_E_IO ? SH_E_UNREACHABLE : ev->last_err)
							   : SH_E_TIMEOUT;
		long wait_ms = (long)((deadline - now) / SH_NS_PER_MS) + 1;
		if (wait_ms > 200)
			wait_ms = 200;
		if (ev->active)
			curl_multi_poll(ev->m, NULL, 0, (int)wait_ms, NULL);
		else
			sh_sleep_ms(wait_ms, NULL);
	}
}
