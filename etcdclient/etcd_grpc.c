/* SPDX-License-Identifier: MIT */
/* etcd_grpc.c - gRPC over libcurl's HTTP/2: framing, status trailers, unary calls with failover, streams */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define AUTH_METHOD "/etcdserverpb.Auth/Authenticate"
/* etcd's smallest possible gRPC receive limit at its default --max-request-bytes */
#define ETCD_GRPC_REQUEST_LIMIT (1536u * 1024)

int eg_frame(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (n > UINT32_MAX)
		return -1;
	uint8_t *b = malloc(EG_FRAME_HDR + n + 1);
	if (!b)
		return -1;
	b[0] = 0;
	b[1] = (uint8_t)(n >> 24);
	b[2] = (uint8_t)(n >> 16);
	b[3] = (uint8_t)(n >> 8);
	b[4] = (uint8_t)n;
	protobuf_c_message_pack(m, b + EG_FRAME_HDR);
	*out = b;
	*len = EG_FRAME_HDR + n;
	return 0;
}

int eg_deframe(const uint8_t *buf, size_t len, size_t max, const uint8_t **msg, size_t *mlen, size_t *used,
	       const char **why)
{
	if (len < EG_FRAME_HDR)
		return 0;
	if (buf[0] != 0) {
		*why = buf[0] == 1 ? "compressed message (no compression was offered)" : "invalid frame flag";
		return -1;
	}
	size_t n = (size_t)buf[1] << 24 | (size_t)buf[2] << 16 | (size_t)buf[3] << 8 | (size_t)buf[4];
	if (n > max) {
		*why = "message larger than the response limit";
		return -1;
	}
	if (len - EG_FRAME_HDR < n)
		return 0;
	*msg = buf + EG_FRAME_HDR;
	*mlen = n;
	*used = EG_FRAME_HDR + n;
	return 1;
}

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
					       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

void eg_status_line(struct eg_status *st, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t nl = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	if (nl == 11 && !strncasecmp(line, "grpc-status", 11)) {
		int code = 0, ok = vl > 0 && vl < 4;
		for (size_t i = 0; ok && i < vl; i++) {
			if (!isdigit((unsigned char)v[i]))
				ok = 0;
			else
				code = code * 10 + (v[i] - '0');
		}
		st->have = 1;
		st->code = ok ? code : 2; /* UNKNOWN for a status we cannot read */
		if (!ok && !st->msg[0])
			snprintf(st->msg, sizeof(st->msg), "unreadable grpc-status '%.*s'", (int)(vl > 40 ? 40 : vl), v);
	} else if (nl == 12 && !strncasecmp(line, "grpc-message", 12)) {
		size_t o = 0;
		for (size_t i = 0; i < vl && o + 1 < sizeof(st->msg); i++) {
			int hi, lo;
			if (v[i] == '%' && i + 2 < vl && (hi = hexval((unsigned char)v[i + 1])) >= 0 &&
			    (lo = hexval((unsigned char)v[i + 2])) >= 0) {
				st->msg[o++] = (char)(hi << 4 | lo);
				i += 2;
			} else {
				st->msg[o++] = v[i];
			}
		}
		st->msg[o] = '\0';
	} else if (nl == 12 && !strncasecmp(line, "content-type", 12)) {
		st->grpc_ctype = vl >= 16 && !strncasecmp(v, "application/grpc", 16);
	}
}

static size_t status_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	eg_status_line(ud, ptr, size * nmemb);
	return size * nmemb;
}

static int is_tls(const char *url)
{
	return !strncmp(url, "https://", 8);
}

/* Request headers of a gRPC call. */
static struct curl_slist *grpc_headers(etcd_client *c, int hasleader, long timeout_ms)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/grpc");
	hd = curl_slist_append(hd, "TE: trailers");
	hd = curl_slist_append(hd, "Expect:");
	if (timeout_ms > 0) {
		char line[64];
		snprintf(line, sizeof(line), "grpc-timeout: %ldm", timeout_ms);
		hd = curl_slist_append(hd, line);
	}
	if (hasleader)
		hd = curl_slist_append(hd, "hasleader: true");
	if (c->token) {
		char *line;
		if (asprintf(&line, "token: %s", c->token) >= 0) {
			hd = curl_slist_append(hd, line);
			free(line);
		}
	}
	return hd;
}

/*
 * HTTP version to ask libcurl for. TLS: ALPN h2. Plain: HTTP/2 with prior
 * knowledge (h2c) on a new connection. libcurl before 8.0 fails every
 * request after the first on a reused prior-knowledge connection ("Error in
 * the HTTP2 framing layer", curl/curl#10634), so once the connection is up
 * the next requests ask for plain HTTP/2, which reuses it as it is; if it was
 * gone meanwhile, libcurl falls back to HTTP/1.1 on a new one, which the
 * caller sees (CURLINFO_HTTP_VERSION) and retries with prior knowledge.
 */
static void grpc_setup(etcd_client *c, CURL *h, const char *base, const char *method, long timeout_ms, int h2c_up)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", base, method);
	curl_easy_setopt(h, CURLOPT_URL, url);
	etcd_curl_setup(c, h, timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
			 is_tls(base) ? (long)CURL_HTTP_VERSION_2TLS
			 : h2c_up     ? (long)CURL_HTTP_VERSION_2_0
				      : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
}

/*
 * curl_multi_perform, again at once while libcurl says it wants to be called
 * at once or the data received so far (*len bytes) grew, at most 16 times.
 * libcurl 7.88 can read a frame off the socket into its HTTP/2 buffer and hand
 * it on only at a later call, while the socket shows nothing more to read:
 * without this, a received frame (a stream's event, a unary answer's
 * trailers) waits for the next poll's timeout. Returns curl_multi_perform's
 * first failure, else CURLM_OK.
 */
static CURLMcode perform_pending(CURLM *m, const size_t *len, int *running)
{
	for (int i = 0; i < 16; i++) {
		size_t before = *len;
		CURLMcode mc = curl_multi_perform(m, running);
		if (mc != CURLM_OK)
			return mc;
		long t = -1;
		curl_multi_timeout(m, &t);
		if (!*running || (t != 0 && *len == before))
			break;
	}
	return CURLM_OK;
}

/*
 * curl_easy_perform's job, through the endpoint's own multi handle. libcurl
 * 7.88 can read a frame off the socket into its HTTP/2 buffer and handle it
 * only on a later call while the socket shows nothing more to read (see
 * perform_pending): a unary answer's trailers, read together
 * with its last DATA frame, then waited for the next poll's timeout, twice:
 * measured ~2 s for a range of 1,000 heartbeats and 1,000 drain states
 * (~300 KB), where the call takes ~5 ms. So perform again at once while the
 * body grew or libcurl asks to be called at once (bounded), else poll. The
 * request's own timeout (CURLOPT_TIMEOUT_MS) and abort callback still apply.
 */
static CURLcode unary_perform(struct etcd_endpoint *ep, CURL *h, const struct etcd_body *bd)
{
	if (!ep->m && !(ep->m = curl_multi_init()))
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(ep->m, h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	CURLcode rc = CURLE_OK;
	int running = 1;
	while (running) {
		if (perform_pending(ep->m, &bd->b.len, &running) != CURLM_OK) {
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		long t = -1;
		curl_multi_timeout(ep->m, &t);
		curl_multi_poll(ep->m, NULL, 0, t < 0 || t > 1000 ? 1000 : t == 0 ? 1 : (int)t, NULL);
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(ep->m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
			rc = msg->data.result;
	curl_multi_remove_handle(ep->m, h);
	return rc;
}

static sh_err post_once(etcd_client *c, struct etcd_endpoint *ep, const char *method, const char *name,
			const uint8_t *frame, size_t flen, long *http, struct eg_status *st, struct etcd_body *bd)
{
	CURL *h = ep->h;
	int reused = ep->h2c_up && !c->fresh_connect;
	grpc_setup(c, h, ep->url, method, c->timeout_ms, reused);
	/* prior knowledge only ever on a new connection (libcurl 7.88 breaks it on a reused one,
	 * e.g. the one a timed-out request left in the cache) */
	if (!is_tls(ep->url) && !reused)
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	struct curl_slist *hd = grpc_headers(c, 0, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)frame);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)flen);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, etcd_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, bd);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, status_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, st);
	CURLcode rc = unary_perform(ep, h, bd);
	curl_slist_free_all(hd);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	long nconn = 0, oserr = 0, ver = 0;
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
	curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver);
	c->connects += nconn;
	ep->h2c_up = rc == CURLE_OK && ver == CURL_HTTP_VERSION_2_0 && !is_tls(ep->url);
	if (reused && rc == CURLE_OK && ver != CURL_HTTP_VERSION_2_0) {
		/* the connection was gone and libcurl made a new HTTP/1.1 one: again with prior knowledge */
		memset(st, 0, sizeof(*st));
		sh_buf_release(&bd->b);
		bd->too_large = 0;
		return post_once(c, ep, method, name, frame, flen, http, st, bd);
	}
	if (rc != CURLE_OK && st->have && st->code != 0 && !bd->too_large) {
		/* refused in headers, then the stream reset while we were still sending
		 * (e.g. a message over the server's limit): the status is the answer */
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
		return SH_OK;
	}
	if (rc == CURLE_HTTP2_STREAM && !st->have && flen > ETCD_GRPC_REQUEST_LIMIT) {
		/* etcd's gRPC server resets the stream of a message over its receive limit
		 * (--max-request-bytes, 1.5 MiB by default, plus 512 KiB) without a status */
		etcd_setf(c, "etcd at '%s' refused %s: it reset the stream of a %zu-byte request (over its limit)",
			  ep->url, name, flen);
		return SH_E_TOO_LARGE;
	}
	if (rc != CURLE_OK) {
		if (bd->too_large) {
			etcd_setf(c, "response from etcd at '%s' to %s exceeds %zu bytes", ep->url, name, bd->max);
			return SH_E_TOO_LARGE;
		}
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		etcd_describe_curl(c->errbuf, sizeof(c->errbuf), ep->url, rc, oserr, c->timeout_ms);
		if (rc == CURLE_OPERATION_TIMEDOUT)
			return SH_E_TIMEOUT;
		return etcd_curl_is_connect_error(rc) || rc == CURLE_HTTP2 ? SH_E_UNREACHABLE : SH_E_IO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
	return SH_OK;
}

sh_err eg_call(etcd_client *c, const char *method, const char *name, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp)
{
	*resp = NULL;
	uint8_t *frame;
	size_t flen;
	if (eg_frame(req, &frame, &flen)) {
		etcd_setf(c, "out of memory encoding %s request", name);
		return SH_E_NOMEM;
	}
	if (c->user && !c->token && strcmp(method, AUTH_METHOD)) {
		sh_err e = etcd_authenticate(c);
		if (e) {
			free(frame);
			return e;
		}
	}
	sh_err e = SH_OK;
	int reauthed = 0;
	for (;;) {
		long http = 0;
		struct eg_status st;
		struct etcd_body bd = {SH_BUF_INIT, c->max_response, 0};
		for (size_t tries = 0; tries < c->neps; tries++) {
			memset(&st, 0, sizeof(st));
			sh_buf_release(&bd.b);
			bd.too_large = 0;
			e = post_once(c, &c->eps[c->cur], method, name, frame, flen, &http, &st, &bd);
			if (e != SH_E_UNREACHABLE)
				break;
			c->cur = (c->cur + 1) % c->neps;
		}
		if (e == SH_E_UNREACHABLE && c->neps > 1) {
			size_t l = strlen(c->errbuf);
			snprintf(c->errbuf + l, sizeof(c->errbuf) - l, " (all %zu endpoints failed)", c->neps);
		}
		if (e)
			goto out;
		const char *url = c->eps[c->cur].url;
		if (st.have && st.code != 0) {
			const char *msg = st.msg[0] ? st.msg : "(no message)";
			e = ej_map_grpc(st.code, msg);
			if (e == SH_E_AUTH && c->user && !reauthed && strstr(msg, "invalid auth token")) {
				sh_buf_release(&bd.b);
				free(c->token);
				c->token = NULL;
				reauthed = 1;
				if ((e = etcd_authenticate(c)) == SH_OK)
					continue;
				goto out;
			}
			if (e == SH_E_UNAVAILABLE && c->neps > 1)
				c->cur = (c->cur + 1) % c->neps;
			etcd_setf(c, "etcd at '%s' refused %s: %s (grpc code %d)", url, name, msg, st.code);
			goto out;
		}
		if (http != 200) {
			etcd_setf(c, "etcd at '%s' answered %s with HTTP %ld", url, name, http);
			e = SH_E_HTTP;
			goto out;
		}
		const uint8_t *msg = NULL;
		size_t mlen = 0, used = 0;
		const char *why = NULL;
		int r = eg_deframe((const uint8_t *)bd.b.buf, bd.b.len, c->max_response, &msg, &mlen, &used, &why);
		if (r == 0)
			why = bd.b.len ? "truncated message" : "no message";
		else if (r > 0 && used != bd.b.len)
			why = "bytes after the message", r = -1;
		else if (r > 0 && !st.have)
			why = "no grpc-status", r = -1;
		if (r > 0 && !(*resp = protobuf_c_message_unpack(rd, NULL, mlen, msg)))
			why = "invalid protobuf", r = -1;
		if (r <= 0) {
			etcd_setf(c, "malformed answer from etcd at '%s' for %s: %s (%zu bytes)", url, name, why,
				  bd.b.len);
			e = SH_E_PROTO;
		}
	out:
		sh_buf_release(&bd.b);
		free(frame);
		return e;
	}
}

/* ---- streams ---- */

static size_t stream_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct eg_stream *s = ud;
	size_t n = size * nitems;
	if (!s->out.len) {
		if (s->half_close)
			return 0;
		s->paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	if (n > s->out.len)
		n = s->out.len;
	memcpy(buf, s->out.buf, n);
	sh_buf_consume(&s->out, n);
	return n;
}

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct eg_stream *s = ud;
	size_t n = size * nmemb;
	if (s->in.len + n > s->max + EG_FRAME_HDR) {
		s->too_large = 1;
		return 0;
	}
	return sh_buf_add(&s->in, ptr, n) ? 0 : n;
}

int eg_stream_open(etcd_client *c, struct eg_stream *s, size_t ep, const char *method, int hasleader,
		   const uint8_t *first, size_t firstlen, int half_close)
{
	memset(s, 0, sizeof(*s));
	s->ep = ep;
	s->max = c->max_response;
	s->half_close = half_close;
	s->m = curl_multi_init();
	s->h = curl_easy_init();
	s->hd = grpc_headers(c, hasleader, 0);
	if (!s->m || !s->h || !s->hd || (firstlen && sh_buf_add(&s->out, first, firstlen))) {
		eg_stream_close(s);
		return -1;
	}
	grpc_setup(c, s->h, c->eps[ep].url, method, 0, 0); /* a stream has no overall timeout */
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hd);
	curl_easy_setopt(s->h, CURLOPT_READFUNCTION, stream_read);
	curl_easy_setopt(s->h, CURLOPT_READDATA, s);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, status_header);
	curl_easy_setopt(s->h, CURLOPT_HEADERDATA, &s->st);
	curl_easy_setopt(s->h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(s->h, CURLOPT_FORBID_REUSE, 1L);
	curl_multi_add_handle(s->m, s->h);
	s->active = 1;
	return 0;
}

int eg_stream_send(struct eg_stream *s, const uint8_t *data, size_t len)
{
	if (sh_buf_add(&s->out, data, len))
		return -1;
	if (s->paused && s->h) {
		s->paused = 0;
		curl_easy_pause(s->h, CURLPAUSE_CONT);
	}
	return 0;
}

static void stream_perform(struct eg_stream *s)
{
	int running = 0;
	perform_pending(s->m, &s->in.len, &running); /* a failure shows as the transfer's result below */
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(s->m, &left))) {
		if (msg->msg != CURLMSG_DONE || msg->easy_handle != s->h)
			continue;
		s->rc = msg->data.result;
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->http);
		curl_easy_getinfo(s->h, CURLINFO_OS_ERRNO, &s->oserr);
		s->done = 1;
		s->active = 0;
	}
}

void eg_stream_pump(struct eg_stream *s, long wait_ms, int wake_fd, int *woken)
{
	if (woken)
		*woken = 0;
	if (!s->active)
		return;
	size_t before = s->in.len;
	stream_perform(s);
	if (!s->active || wait_ms <= 0 || s->in.len != before)
		return;
	struct curl_waitfd wfd = {wake_fd, CURL_WAIT_POLLIN, 0};
	curl_multi_poll(s->m, wake_fd >= 0 ? &wfd : NULL, wake_fd >= 0 ? 1 : 0, (int)wait_ms, NULL);
	if (woken)
		*woken = wfd.revents != 0;
	stream_perform(s);
}

int eg_stream_next(struct eg_stream *s, ProtobufCMessage **msg, const ProtobufCMessageDescriptor *d,
		   const char **why)
{
	const uint8_t *m;
	size_t mlen, used;
	int r = eg_deframe((const uint8_t *)s->in.buf, s->in.len, s->max, &m, &mlen, &used, why);
	if (r <= 0)
		return r;
	*msg = protobuf_c_message_unpack(d, NULL, mlen, m);
	sh_buf_consume(&s->in, used);
	if (!*msg) {
		*why = "invalid protobuf";
		return -1;
	}
	return 1;
}

void eg_stream_close(struct eg_stream *s)
{
	if (s->h) {
		if (s->m)
			curl_multi_remove_handle(s->m, s->h);
		curl_easy_cleanup(s->h);
	}
	if (s->m)
		curl_multi_cleanup(s->m);
	curl_slist_free_all(s->hd);
	sh_buf_release(&s->out);
	sh_buf_release(&s->in);
	memset(s, 0, sizeof(*s));
}

sh_err eg_stream_why(etcd_client *c, const struct eg_stream *s, const char *what, char *buf, size_t len)
{
	const char *url = c->eps[s->ep].url;
	if (s->too_large) {
		snprintf(buf, len, "%s answer from etcd at '%s' exceeds %zu bytes", what, url, s->max);
		return SH_E_TOO_LARGE;
	}
	if (s->st.have && s->st.code != 0) {
		const char *msg = s->st.msg[0] ? s->st.msg : "(no message)";
		snprintf(buf, len, "etcd at '%s' ended %s: %s (grpc code %d)", url, what, msg, s->st.code);
		sh_err e = ej_map_grpc(s->st.code, msg);
		return e;
	}
	if (s->rc != CURLE_OK) {
		etcd_describe_curl(buf, len, url, s->rc, s->oserr, 0);
		return etcd_curl_is_connect_error(s->rc) ? SH_E_UNREACHABLE : SH_E_IO;
	}
	if (s->http && s->http != 200) {
		snprintf(buf, len, "%s stream from etcd at '%s' ended (HTTP %ld)", what, url, s->http);
		return SH_E_HTTP;
	}
	snprintf(buf, len, "%s stream from etcd at '%s' ended", what, url);
	return SH_E_UNREACHABLE;
}
