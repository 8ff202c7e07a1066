/* SPDX-License-Identifier: MIT */
/* etcd_watch.c - streaming watch over the gateway that resumes after lost connections */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

struct etcd_watch {
	etcd_client *c;
	char *key;
	char *range_end;
	etcd_watch_opts opts;
	CURLM *m;
	CURL *h;
	struct curl_slist *hd;
	char *reqjson;
	int active;          /* a transfer is running */
	int created;         /* the current stream confirmed creation */
	sh_buf in;
	size_t ep;
	int64_t next_rev;    /* revision to resume from; 0 = from now */
	int64_t retry_at_ns;
	long backoff_ms;
	long reconnects;
	long streams;        /* streams opened */
	int too_large;
	int wake_fd;
	int grpc;            /* the client speaks gRPC: gs is the stream */
	struct eg_stream gs;
	sh_err last_err;
	char errbuf[512];
};

const char *etcd_watch_errmsg(const etcd_watch *w)
{
	return w->errbuf;
}

int64_t etcd_watch_next_revision(const etcd_watch *w)
{
	return w->next_rev;
}

void etcd_watch_set_wake_fd(etcd_watch *w, int fd)
{
	w->wake_fd = fd;
}

long etcd_watch_reconnects(const etcd_watch *w)
{
	return w->reconnects;
}

static size_t watch_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	etcd_watch *w = ud;
	size_t n = size * nmemb;
	if (w->in.len + n > w->c->max_response) {
		w->too_large = 1;
		return 0;
	}
	return sh_buf_add(&w->in, ptr, n) ? 0 : n;
}

static void stop_transfer(etcd_watch *w)
{
	if (w->grpc && w->gs.m)
		eg_stream_close(&w->gs);
	if (w->h) {
		curl_multi_remove_handle(w->m, w->h);
		curl_easy_cleanup(w->h);
		w->h = NULL;
	}
	curl_slist_free_all(w->hd);
	w->hd = NULL;
	free(w->reqjson);
	w->reqjson = NULL;
	w->active = 0;
	w->created = 0;
	sh_buf_release(&w->in);
}

static void schedule_retry(etcd_watch *w)
{
	w->retry_at_ns = sh_mono_ns() + w->backoff_ms * SH_NS_PER_MS;
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

static sh_err start_transfer(etcd_watch *w)
{
	etcd_client *c = w->c;
	if (w->grpc) {
		uint8_t *frame = NULL;
		size_t flen = 0;
		etcd_watch_opts go = w->opts;
		go.range_end = w->range_end;
		if (ep_watch_request(w->key, &go, w->next_rev, &frame, &flen) ||
		    eg_stream_open(c, &w->gs, w->ep, "/etcdserverpb.Watch/Watch", 1, frame, flen, 1)) {
			free(frame);
			stop_transfer(w);
			snprintf(w->errbuf, sizeof(w->errbuf), "out of memory opening watch on '%s'", w->key);
			return SH_E_NOMEM;
		}
		free(frame);
		w->active = 1;
		if (w->streams++ > 0)
			w->reconnects++;
		return SH_OK;
	}
	etcd_watch_opts o = w->opts;
	o.range_end = w->range_end;
	cJSON *req = ej_watch_request(w->key, &o, w->next_rev);
	w->reqjson = req ? cJSON_PrintUnformatted(req) : NULL;
	cJSON_Delete(req);
	w->h = curl_easy_init();
	if (!w->reqjson || !w->h) {
		stop_transfer(w);
		snprintf(w->errbuf, sizeof(w->errbuf), "out of memory opening watch on '%s'", w->key);
		return SH_E_NOMEM;
	}
	char url[1024];
	snprintf(url, sizeof(url), "%s/v3/watch", c->eps[w->ep].url);
	etcd_curl_setup(c, w->h, 0); /* a stream has no overall timeout */
	curl_easy_setopt(w->h, CURLOPT_URL, url);
	w->hd = etcd_headers(c, 1);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, w->hd);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, w->reqjson);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE, (long)strlen(w->reqjson));
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(w->h, CURLOPT_FORBID_REUSE, 1L);
	curl_multi_add_handle(w->m, w->h);
	w->active = 1;
	w->too_large = 0;
	if (w->streams++ > 0)
		w->reconnects++;
	return SH_OK;
}

sh_err etcd_watch_open(etcd_client *c, const char *key, const etcd_watch_opts *opts, etcd_watch **out)
{
	*out = NULL;
	etcd_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return SH_E_NOMEM;
	w->c = c;
	w->key = strdup(key);
	if (opts)
		w->opts = *opts;
	w->range_end = opts && opts->range_end ? strdup(opts->range_end) : NULL;
	w->m = curl_multi_init();
	w->ep = c->cur;
	w->next_rev = opts ? opts->start_revision : 0;
	w->backoff_ms = BACKOFF_MIN_MS;
	w->wake_fd = -1;
	w->grpc = c->grpc;
	if (!w->key || !w->m || (opts && opts->range_end && !w->range_end)) {
		etcd_watch_close(w);
		etcd_setf(c, "out of memory opening watch on '%s'", key);
		return SH_E_NOMEM;
	}
	if (c->user && !c->token) {
		sh_err e = etcd_authenticate(c);
		if (e) {
			etcd_watch_close(w);
			return e;
		}
	}
	sh_err e = start_transfer(w);
	if (e) {
		etcd_setf(c, "%s", w->errbuf);
		etcd_watch_close(w);
		return e;
	}
	*out = w;
	return SH_OK;
}

void etcd_watch_close(etcd_watch *w)
{
	if (!w)
		return;
	stop_transfer(w);
	if (w->m)
		curl_multi_cleanup(w->m);
	free(w->key);
	free(w->range_end);
	free(w);
}

/* The transfer ended or broke: note why, rotate endpoint on connection errors, plan a retry. */
static void transfer_failed(etcd_watch *w, sh_err e, const char *why)
{
	snprintf(w->errbuf, sizeof(w->errbuf), "%s", why);
	w->last_err = e;
	stop_transfer(w);
	if (e == SH_E_UNREACHABLE || e == SH_E_UNAVAILABLE)
		w->ep = (w->ep + 1) % w->c->neps;
	schedule_retry(w);
}

static int handle_result(etcd_watch *w, etcd_watch_batch *b, int created, int canceled, const char *reason,
			 sh_err *err);

/* Handle one line of the stream. Returns 1 when b holds something for the caller,
 * 0 to keep reading, or -1 with *err set for a condition the caller must see. */
static int handle_line(etcd_watch *w, const char *line, size_t len, etcd_watch_batch *b, sh_err *err)
{
	const char *url = w->c->eps[w->ep].url;
	cJSON *j = cJSON_ParseWithLength(line, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		char why[256];
		snprintf(why, sizeof(why), "malformed JSON in watch stream from etcd at '%s'", url);
		transfer_failed(w, SH_E_PROTO, why);
		return 0;
	}
	int code;
	const char *msg;
	if (ej_grpc_error(j, &code, &msg)) {
		sh_err e = ej_map_grpc(code, msg);
		char why[400];
		snprintf(why, sizeof(why), "etcd at '%s' ended watch: %s (grpc code %d)", url, msg, code);
		cJSON_Delete(j);
		if (e == SH_E_AUTH && w->c->user) {
			stop_transfer(w);
			if (etcd_authenticate(w->c) == SH_OK)
				return 0; /* restart at once with a new token */
			snprintf(w->errbuf, sizeof(w->errbuf), "%s", etcd_errmsg(w->c));
			*err = SH_E_AUTH;
			schedule_retry(w);
			return -1;
		}
		if (e == SH_E_COMPACTED) {
			stop_transfer(w);
			snprintf(w->errbuf, sizeof(w->errbuf), "%s", why);
			*err = SH_E_COMPACTED;
			return -1;
		}
		transfer_failed(w, e == SH_E_GRPC ? SH_E_UNAVAILABLE : e, why);
		return 0;
	}
	cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");
	int created, canceled;
	if (!cJSON_IsObject(res) || ej_decode_watch(res, b, &created, &canceled)) {
		cJSON_Delete(j);
		char why[256];
		snprintf(why, sizeof(why), "malformed watch answer from etcd at '%s'", url);
		transfer_failed(w, SH_E_PROTO, why);
		return 0;
	}
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(res, "cancel_reason");
	char reason_buf[256];
	snprintf(reason_buf, sizeof(reason_buf), "%s", cJSON_IsString(reason) ? reason->valuestring : "");
	cJSON_Delete(j);
	return handle_result(w, b, created, canceled, cJSON_IsString(reason) ? reason_buf : NULL, err);
}

/* A decoded answer (either wire): same return values as handle_line. */
static int handle_result(etcd_watch *w, etcd_watch_batch *b, int created, int canceled, const char *reason,
			 sh_err *err)
{
	const char *url = w->c->eps[w->ep].url;
	char why[400];
	snprintf(why, sizeof(why), "etcd at '%s' canceled watch%s%s", url, reason ? ": " : "", reason ? reason : "");
	if (canceled) {
		if (b->compact_revision > 0) {
			snprintf(w->errbuf, sizeof(w->errbuf),
				 "watch on '%s' from revision %lld: compacted up to %lld", w->key,
				 (long long)w->next_rev, (long long)b->compact_revision);
			etcd_watch_batch_free(b);
			stop_transfer(w);
			*err = SH_E_COMPACTED;
			return -1;
		}
		etcd_watch_batch_free(b);
		transfer_failed(w, SH_E_UNAVAILABLE, why);
		return 0;
	}
	if (created) {
		w->created = 1;
		w->last_err = SH_OK;
		w->backoff_ms = BACKOFF_MIN_MS;
		if (w->next_rev == 0)
			w->next_rev = b->revision + 1;
		if (b->n == 0) {
			etcd_watch_batch_free(b);
			return 0;
		}
	}
	if (b->n > 0) {
		int64_t last = b->events[b->n - 1].kv.mod_revision;
		if (last < w->next_rev) {
			/* already delivered before a reconnect: drop */
			etcd_watch_batch_free(b);
			return 0;
		}
		w->next_rev = last + 1;
		return 1;
	}
	/* progress notification: everything up to header revision was sent */
	if (b->revision + 1 > w->next_rev)
		w->next_rev = b->revision + 1;
	b->progress = 1;
	return 1;
}

/* The gRPC stream ended with why/e (grpc status, transport): as the gateway's error line. */
static int grpc_ended(etcd_watch *w, sh_err e, const char *why, sh_err *err)
{
	if (e == SH_E_AUTH && w->c->user && w->gs.st.have) {
		stop_transfer(w);
		if (etcd_authenticate(w->c) == SH_OK)
			return 0; /* restart at once with a new token */
		snprintf(w->errbuf, sizeof(w->errbuf), "%s", etcd_errmsg(w->c));
		*err = SH_E_AUTH;
		schedule_retry(w);
		return -1;
	}
	if (e == SH_E_COMPACTED) {
		stop_transfer(w);
		snprintf(w->errbuf, sizeof(w->errbuf), "%s", why);
		*err = SH_E_COMPACTED;
		return -1;
	}
	if (e == SH_E_TOO_LARGE) {
		snprintf(w->errbuf, sizeof(w->errbuf), "%s", why);
		stop_transfer(w);
		schedule_retry(w);
		*err = SH_E_TOO_LARGE;
		return -1;
	}
	transfer_failed(w, e == SH_E_GRPC || e == SH_E_HTTP ? SH_E_UNAVAILABLE : e, why);
	return 0;
}

static sh_err next_grpc(etcd_watch *w, etcd_watch_batch *b, long timeout_ms)
{
	int64_t deadline = sh_mono_ns() + (int64_t)timeout_ms * SH_NS_PER_MS;
	for (;;) {
		/* whole messages first */
		while (w->active) {
			ProtobufCMessage *m = NULL;
			const char *why = NULL;
			int r = eg_stream_next(&w->gs, &m, &etcdserverpb__watch_response__descriptor, &why);
			if (r == 0)
				break;
			if (r < 0) {
				char line[400];
				snprintf(line, sizeof(line), "malformed watch answer from etcd at '%s': %s",
					 w->c->eps[w->ep].url, why);
				transfer_failed(w, SH_E_PROTO, line);
				break;
			}
			Etcdserverpb__WatchResponse *wr = (Etcdserverpb__WatchResponse *)m;
			int created, canceled;
			sh_err err = SH_OK;
			char reason[256];
			snprintf(reason, sizeof(reason), "%s", wr->cancel_reason ? wr->cancel_reason : "");
			int bad = ep_decode_watch(wr, b, &created, &canceled);
			protobuf_c_message_free_unpacked(m, NULL);
			if (bad) {
				char line[400];
				snprintf(line, sizeof(line), "malformed watch answer from etcd at '%s'",
					 w->c->eps[w->ep].url);
				transfer_failed(w, SH_E_PROTO, line);
				break;
			}
			r = handle_result(w, b, created, canceled, reason[0] ? reason : NULL, &err);
			if (r > 0)
				return SH_OK;
			if (r < 0)
				return err;
		}
		if (w->active && w->gs.done) {
			char why[400];
			sh_err err = SH_OK;
			sh_err e = eg_stream_why(w->c, &w->gs, "watch", why, sizeof(why));
			if (w->gs.in.len && !w->too_large && e != SH_E_TOO_LARGE && !(w->gs.st.have && w->gs.st.code))
				snprintf(why, sizeof(why), "watch stream from etcd at '%s' ended inside a message",
					 w->c->eps[w->ep].url), e = SH_E_IO;
			if (grpc_ended(w, e, why, &err) < 0)
				return err;
			continue;
		}
		int64_t now = sh_mono_ns();
		if (!w->active && now >= w->retry_at_ns) {
			sh_err e = start_transfer(w);
			if (e)
				return e;
			continue;
		}
		if (now >= deadline) {
			if (w->last_err && !w->created)
				return w->last_err == SH_E_IO ? SH_E_UNREACHABLE : w->last_err;
			return SH_E_TIMEOUT;
		}
		int64_t wake = deadline;
		if (!w->active && w->retry_at_ns < wake)
			wake = w->retry_at_ns;
		long wait_ms = (long)((wake - now + SH_NS_PER_MS - 1) / SH_NS_PER_MS);
		if (wait_ms > 200)
			wait_ms = 200;
		if (wait_ms < 0)
			wait_ms = 0;
		int woken = 0;
		if (w->active) {
			eg_stream_pump(&w->gs, wait_ms, w->wake_fd, &woken);
		} else if (w->wake_fd >= 0) {
			struct pollfd p = {w->wake_fd, POLLIN, 0};
			poll(&p, 1, (int)wait_ms);
			woken = (p.revents & POLLIN) != 0;
		} else {
			sh_sleep_ms(wait_ms, NULL);
		}
		if (woken)
			return SH_E_TIMEOUT; /* the caller has something to look at */
	}
}

sh_err etcd_watch_next(etcd_watch *w, etcd_watch_batch *b, long timeout_ms)
{
	memset(b, 0, sizeof(*b));
	if (w->grpc)
		return next_grpc(w, b, timeout_ms);
	int64_t deadline = sh_mono_ns() + (int64_t)timeout_ms * SH_NS_PER_MS;
	for (;;) {
		/* complete lines first */
		char *nl;
		while (w->in.len && (nl = memchr(w->in.buf, '\n', w->in.len))) {
			size_t len = (size_t)(nl - w->in.buf);
			sh_err err = SH_OK;
			int r = len ? handle_line(w, w->in.buf, len, b, &err) : 0;
			if (w->in.len)
				sh_buf_consume(&w->in, len + 1);
			if (r > 0)
				return SH_OK;
			if (r < 0)
				return err;
		}
		int64_t now = sh_mono_ns();
		if (!w->active && now >= w->retry_at_ns) {
			sh_err e = start_transfer(w);
			if (e)
				return e;
		}
		if (w->active) {
			int running = 0;
			curl_multi_perform(w->m, &running);
			CURLMsg *msg;
			int left;
			while ((msg = curl_multi_info_read(w->m, &left))) {
				if (msg->msg != CURLMSG_DONE || msg->easy_handle != w->h)
					continue;
				CURLcode rc = msg->data.result;
				const char *url = w->c->eps[w->ep].url;
				char why[400];
				long status = 0, oserr = 0;
				curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
				curl_easy_getinfo(w->h, CURLINFO_OS_ERRNO, &oserr);
				/* parse what arrived before the end (an error line, say) */
				if (w->in.len && w->in.buf[w->in.len - 1] != '\n')
					sh_buf_add(&w->in, "\n", 1);
				if (w->too_large) {
					snprintf(w->errbuf, sizeof(w->errbuf),
						 "watch answer from etcd at '%s' exceeds %zu bytes", url,
						 w->c->max_response);
					stop_transfer(w);
					schedule_retry(w);
					return SH_E_TOO_LARGE;
				}
				while (w->in.len && (nl = memchr(w->in.buf, '\n', w->in.len))) {
					size_t len = (size_t)(nl - w->in.buf);
					sh_err err = SH_OK;
					int r = len ? handle_line(w, w->in.buf, len, b, &err) : 0;
					if (w->in.len)
						sh_buf_consume(&w->in, len + 1);
					if (r != 0) {
						/* deliver now; the ended transfer is noticed next call */
						if (w->active) {
							snprintf(why, sizeof(why), "watch stream from etcd at '%s' ended", url);
							transfer_failed(w, SH_E_UNREACHABLE, why);
						}
						return r > 0 ? SH_OK : err;
					}
				}
				if (!w->active)
					break; /* handled inside handle_line */
				if (rc == CURLE_OK)
					snprintf(why, sizeof(why), "watch stream from etcd at '%s' ended (HTTP %ld)", url, status);
				else
					etcd_describe_curl(why, sizeof(why), url, rc, oserr, 0);
				transfer_failed(w, etcd_curl_is_connect_error(rc) ? SH_E_UNREACHABLE : SH_E_IO, why);
				break;
			}
			if (w->in.len && memchr(w->in.buf, '\n', w->in.len))
				continue;
		}
		now = sh_mono_ns();
		if (now >= deadline) {
			if (!w->active || !w->created) {
				if (w->last_err && !w->created)
					return w->last_err == SH_E_IO ? SH_E_UNREACHABLE : w->last_err;
			}
			return SH_E_TIMEOUT;
		}
		int64_t wake = deadline;
		if (!w->active && w->retry_at_ns < wake)
			wake = w->retry_at_ns;
		long wait_ms = (long)((wake - now + SH_NS_PER_MS - 1) / SH_NS_PER_MS);
		if (wait_ms > 200)
			wait_ms = 200;
		if (wait_ms < 0)
			wait_ms = 0;
		struct curl_waitfd wfd = {w->wake_fd, CURL_WAIT_POLLIN, 0};
		if (w->active) {
			curl_multi_poll(w->m, w->wake_fd >= 0 ? &wfd : NULL, w->wake_fd >= 0 ? 1 : 0, (int)wait_ms, NULL);
		} else if (w->wake_fd >= 0) {
			struct pollfd p = {w->wake_fd, POLLIN, 0};
			poll(&p, 1, (int)wait_ms);
			wfd.revents = p.revents & POLLIN ? CURL_WAIT_POLLIN : 0;
		} else {
			sh_sleep_ms(wait_ms, NULL);
		}
		if (wfd.revents)
			return SH_E_TIMEOUT; /* the caller has something to look at */
	}
}
