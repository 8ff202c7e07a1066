/* SPDX-License-Identifier: MIT */
/* etcd_client.c - etcd client lifecycle, HTTP transport with failover and reuse, unary calls */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 1000
#define DEFAULT_MAX_VALUE (1536 * 1024)
#define DEFAULT_MAX_RESPONSE (64u * 1024 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void etcd_setf(etcd_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errbuf, sizeof(c->errbuf), fmt, ap);
	va_end(ap);
}

const char *etcd_errmsg(const etcd_client *c)
{
	return c->errbuf;
}

const char *etcd_current_endpoint(const etcd_client *c)
{
	return c->neps ? c->eps[c->cur].url : "";
}

long etcd_connects(const etcd_client *c)
{
	return c->connects;
}

long etcd_auths(const etcd_client *c)
{
	return c->auths;
}

void etcd_config_from_env(etcd_config *cfg)
{
	if (cfg->endpoints && *cfg->endpoints)
		return;
	const char *e = getenv("SWARMHEAL_ENDPOINTS");
	if (!e || !*e)
		e = getenv("ETCDCTL_ENDPOINTS");
	if (e && *e)
		cfg->endpoints = e;
}

static void set_err(char *errbuf, size_t errlen, const char *fmt, const char *arg)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, fmt, arg);
}

sh_err etcd_client_new(const etcd_config *cfg, etcd_client **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	const char *eps = cfg->endpoints && *cfg->endpoints ? cfg->endpoints : "http://127.0.0.1:2379";
	etcd_client *c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(errbuf, errlen, "%s", "out of memory creating etcd client");
		return SH_E_NOMEM;
	}
	c->endpoints_str = strdup(eps);
	c->cacert = sh_strdup(cfg->cacert);
	c->cert = sh_strdup(cfg->cert);
	c->key = sh_strdup(cfg->key);
	c->user = sh_strdup(cfg->user);
	c->password = sh_strdup(cfg->password);
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	if (c->connect_timeout_ms > c->timeout_ms)
		c->connect_timeout_ms = c->timeout_ms;
	c->max_value = cfg->max_value ? cfg->max_value : DEFAULT_MAX_VALUE;
	c->max_response = cfg->max_response ? cfg->max_response : DEFAULT_MAX_RESPONSE;
	c->fresh_connect = cfg->fresh_connect;
	int tr = cfg->transport;
	if (tr == ETCD_TRANSPORT_DEFAULT) {
		const char *env = getenv("SWARMHEAL_ETCD_TRANSPORT");
		if (env && !strcmp(env, "gateway"))
			tr = ETCD_TRANSPORT_GATEWAY;
		else if (env && *env && strcmp(env, "grpc")) {
			set_err(errbuf, errlen, "SWARMHEAL_ETCD_TRANSPORT is '%s' (want grpc or gateway)", env);
			etcd_client_free(c);
			return SH_E_INVAL;
		}
	}
	c->grpc = tr != ETCD_TRANSPORT_GATEWAY;
	if (!c->endpoints_str)
		goto nomem;
	if ((cfg->cert && !cfg->key) || (!cfg->cert && cfg->key)) {
		set_err(errbuf, errlen, "%s", "--cert and --key must be given together");
		etcd_client_free(c);
		return SH_E_INVAL;
	}
	if (cfg->user && !cfg->password) {
		set_err(errbuf, errlen, "no password given for etcd user '%s'", cfg->user);
		etcd_client_free(c);
		return SH_E_INVAL;
	}
	/* split the comma list */
	size_t n = 1;
	for (const char *p = eps; *p; p++)
		n += *p == ',';
	c->eps = calloc(n, sizeof(*c->eps));
	if (!c->eps)
		goto nomem;
	char *copy = strdup(eps), *save = NULL;
	if (!copy)
		goto nomem;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t tl = strlen(tok);
		while (tl && (tok[tl - 1] == '/' || tok[tl - 1] == ' '))
			tok[--tl] = '\0';
		if (!tl)
			continue;
		char *url;
		if (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8)) {
			if (strstr(tok, "://")) {
				set_err(errbuf, errlen, "unsupported etcd endpoint '%s' (want http:// or https://)", tok);
				free(copy);
				etcd_client_free(c);
				return SH_E_INVAL;
			}
			if (asprintf(&url, "%s://%s", c->cacert ? "https" : "http", tok) < 0)
				url = NULL;
		} else {
			url = strdup(tok);
		}
		if (!url) {
			free(copy);
			goto nomem;
		}
		c->eps[c->neps].url = url;
		c->eps[c->neps].h = curl_easy_init();
		if (!c->eps[c->neps].h) {
			c->neps++;
			free(copy);
			goto nomem;
		}
		c->neps++;
	}
	free(copy);
	if (!c->neps) {
		set_err(errbuf, errlen, "no etcd endpoint in '%s'", eps);
		etcd_client_free(c);
		return SH_E_INVAL;
	}
	*out = c;
	return SH_OK;
nomem:
	set_err(errbuf, errlen, "%s", "out of memory creating etcd client");
	etcd_client_free(c);
	return SH_E_NOMEM;
}

sh_err etcd_client_dup(const etcd_client *src, etcd_client **out)
{
	etcd_config cfg = {
		.endpoints = src->endpoints_str,
		.cacert = src->cacert,
		.cert = src->cert,
		.key = src->key,
		.user = src->user,
		.password = src->password,
		.timeout_ms = src->timeout_ms,
		.connect_timeout_ms = src->connect_timeout_ms,
		.max_value = src->max_value,
		.max_response = src->max_response,
		.fresh_connect = src->fresh_connect,
		.transport = src->grpc ? ETCD_TRANSPORT_GRPC : ETCD_TRANSPORT_GATEWAY,
	};
	sh_err e = etcd_client_new(&cfg, out, NULL, 0);
	if (e == SH_OK && src->token)
		(*out)->token = strdup(src->token);
	return e;
}

void etcd_client_free(etcd_client *c)
{
	if (!c)
		return;
	if (c->ka) {
		eg_stream_close(c->ka);
		free(c->ka);
	}
	for (size_t i = 0; i < c->neps; i++) {
		free(c->eps[i].url);
		if (c->eps[i].m)
			curl_multi_cleanup(c->eps[i].m);
		if (c->eps[i].h)
			curl_easy_cleanup(c->eps[i].h);
	}
	free(c->eps);
	free(c->endpoints_str);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	free(c->user);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->token);
	free(c);
}

void etcd_curl_setup(etcd_client *c, CURL *h, long timeout_ms)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, (long)c->fresh_connect);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, (long)c->fresh_connect);
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	}
}

struct curl_slist *etcd_headers(etcd_client *c, int hasleader)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Expect:");
	if (hasleader)
		hd = curl_slist_append(hd, "Grpc-Metadata-hasleader: true");
	if (c->token) {
		char *line;
		if (asprintf(&line, "Authorization: %s", c->token) >= 0) {
			hd = curl_slist_append(hd, line);
			free(line);
		}
	}
	return hd;
}

int etcd_curl_is_connect_error(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_SSL_CONNECT_ERROR;
}

void etcd_describe_curl(char *buf, size_t len, const char *url, CURLcode rc, long os_errno, long timeout_ms)
{
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(buf, len, "etcd at '%s' did not answer within %ld ms", url, timeout_ms);
	} else if (rc == CURLE_COULDNT_CONNECT && os_errno) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%s", strerror((int)os_errno));
		reason[0] = (char)(reason[0] >= 'A' && reason[0] <= 'Z' ? reason[0] + 32 : reason[0]);
		snprintf(buf, len, "cannot reach etcd at '%s': %s", url, reason);
	} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
		snprintf(buf, len, "cannot reach etcd at '%s': %s", url, curl_easy_strerror(rc));
	} else {
		snprintf(buf, len, "request to etcd at '%s' failed: %s", url, curl_easy_strerror(rc));
	}
}

size_t etcd_body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct etcd_body *bd = ud;
	size_t n = size * nmemb;
	if (bd->b.len + n > bd->max) {
		bd->too_large = 1;
		return 0;
	}
	return sh_buf_add(&bd->b, ptr, n) ? 0 : n;
}

/* One HTTP POST to one endpoint. */
static sh_err post_once(etcd_client *c, struct etcd_endpoint *ep, const char *path, const char *json,
			long *status, struct etcd_body *bd)
{
	CURL *h = ep->h;
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", ep->url, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	etcd_curl_setup(c, h, c->timeout_ms);
	struct curl_slist *hd = etcd_headers(c, 0);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, etcd_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, bd);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hd);
	long nconn = 0, oserr = 0;
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
	c->connects += nconn;
	if (rc != CURLE_OK) {
		if (bd->too_large) {
			etcd_setf(c, "response from etcd at '%s' to %s exceeds %zu bytes", ep->url, path, bd->max);
			return SH_E_TOO_LARGE;
		}
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		etcd_describe_curl(c->errbuf, sizeof(c->errbuf), ep->url, rc, oserr, c->timeout_ms);
		if (rc == CURLE_OPERATION_TIMEDOUT)
			return SH_E_TIMEOUT;
		return etcd_curl_is_connect_error(rc) ? SH_E_UNREACHABLE : SH_E_IO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return SH_OK;
}

/*
 * POST a JSON request; on success *resp holds the parsed body (the "result"
 * member for stream-shaped answers when unwrap is set). Fails over to the
 * next endpoint on connection errors; re-authenticates once on an invalid token.
 */
static sh_err call(etcd_client *c, const char *path, const cJSON *req, cJSON **resp, int unwrap)
{
	*resp = NULL;
	char *json = cJSON_PrintUnformatted(req);
	if (!json) {
		etcd_setf(c, "out of memory encoding %s request", path);
		return SH_E_NOMEM;
	}
	if (c->user && !c->token && strcmp(path, "/v3/auth/authenticate")) {
		sh_err e = etcd_authenticate(c);
		if (e) {
			free(json);
			return e;
		}
	}
	sh_err e = SH_OK;
	int reauthed = 0;
	for (;;) {
		long status = 0;
		struct etcd_body bd = {SH_BUF_INIT, c->max_response, 0};
		size_t tries = 0;
		for (; tries < c->neps; tries++) {
			struct etcd_endpoint *ep = &c->eps[c->cur];
			sh_buf_release(&bd.b);
			bd.too_large = 0;
			e = post_once(c, ep, path, json, &status, &bd);
			if (e != SH_E_UNREACHABLE)
				break;
			c->cur = (c->cur + 1) % c->neps;
		}
		if (e == SH_E_UNREACHABLE && c->neps > 1) {
			size_t l = strlen(c->errbuf);
			snprintf(c->errbuf + l, sizeof(c->errbuf) - l, " (all %zu endpoints failed)", c->neps);
		}
		if (e) {
			sh_buf_release(&bd.b);
			free(json);
			return e;
		}
		const char *url = c->eps[c->cur].url;
		const char *endp = NULL;
		cJSON *body = bd.b.buf ? cJSON_ParseWithLengthOpts(bd.b.buf, bd.b.len, &endp, 0) : NULL;
		int code;
		const char *msg;
		if (body && ej_grpc_error(body, &code, &msg)) {
			e = ej_map_grpc(code, msg);
			if (e == SH_E_AUTH && c->user && !reauthed && strstr(msg, "invalid auth token")) {
				cJSON_Delete(body);
				sh_buf_release(&bd.b);
				free(c->token);
				c->token = NULL;
				reauthed = 1;
				if ((e = etcd_authenticate(c)) == SH_OK)
					continue;
				free(json);
				return e;
			}
			if (e == SH_E_UNAVAILABLE && c->neps > 1)
				c->cur = (c->cur + 1) % c->neps;
			etcd_setf(c, "etcd at '%s' refused %s: %s (grpc code %d)", url, path, msg, code);
			cJSON_Delete(body);
			sh_buf_release(&bd.b);
			free(json);
			return e;
		}
		if (status != 200) {
			etcd_setf(c, "etcd at '%s' answered %s with HTTP %ld%s%.120s", url, path, status,
				  bd.b.len ? ": " : "", bd.b.len ? bd.b.buf : "");
			cJSON_Delete(body);
			sh_buf_release(&bd.b);
			free(json);
			return SH_E_HTTP;
		}
		if (!body || !cJSON_IsObject(body)) {
			etcd_setf(c, "malformed JSON from etcd at '%s' for %s (%zu bytes%s)", url, path, bd.b.len,
				  bd.b.len ? "" : ", empty");
			cJSON_Delete(body);
			sh_buf_release(&bd.b);
			free(json);
			return SH_E_PROTO;
		}
		sh_buf_release(&bd.b);
		free(json);
		if (unwrap) {
			cJSON *res = cJSON_DetachItemFromObjectCaseSensitive(body, "result");
			cJSON_Delete(body);
			if (!cJSON_IsObject(res)) {
				cJSON_Delete(res);
				etcd_setf(c, "malformed answer from etcd at '%s' for %s: no result", url, path);
				return SH_E_PROTO;
			}
			body = res;
		}
		*resp = body;
		return SH_OK;
	}
}

sh_err etcd_malformed(etcd_client *c, const char *what)
{
	etcd_setf(c, "malformed %s answer from etcd at '%s'", what, etcd_current_endpoint(c));
	return SH_E_PROTO;
}

sh_err etcd_nomem(etcd_client *c, const char *what)
{
	etcd_setf(c, "out of memory building %s request", what);
	return SH_E_NOMEM;
}

sh_err etcd_authenticate(etcd_client *c)
{
	if (!c->user) {
		etcd_setf(c, "no etcd user configured");
		return SH_E_INVAL;
	}
	if (c->grpc)
		return ep_authenticate(c);
	cJSON *req = cJSON_CreateObject(), *resp;
	if (!req || !cJSON_AddStringToObject(req, "name", c->user) ||
	    !cJSON_AddStringToObject(req, "password", c->password)) {
		cJSON_Delete(req);
		return etcd_nomem(c, "authenticate");
	}
	free(c->token);
	c->token = NULL;
	sh_err e = call(c, "/v3/auth/authenticate", req, &resp, 0);
	cJSON_Delete(req);
	if (e) {
		if (e == SH_E_AUTH || e == SH_E_GRPC) {
			char prev[sizeof(c->errbuf)];
			snprintf(prev, sizeof(prev), "%s", c->errbuf);
			etcd_setf(c, "etcd authentication as '%s' failed: %s", c->user,
				  strstr(prev, "refused /v3/auth/authenticate: ")
					  ? strstr(prev, "refused /v3/auth/authenticate: ") + 32
					  : prev);
			return SH_E_AUTH;
		}
		return e;
	}
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(resp, "token");
	if (!cJSON_IsString(tok) || !*tok->valuestring) {
		cJSON_Delete(resp);
		return etcd_malformed(c, "authenticate");
	}
	c->token = strdup(tok->valuestring);
	cJSON_Delete(resp);
	if (!c->token)
		return SH_E_NOMEM;
	c->auths++;
	return SH_OK;
}

sh_err etcd_range(etcd_client *c, const char *key, const etcd_range_opts *opts, etcd_range_result *out)
{
	if (c->grpc)
		return ep_range(c, key, opts, out);
	memset(out, 0, sizeof(*out));
	cJSON *req = ej_range_request(key, opts), *resp;
	if (!req)
		return etcd_nomem(c, "range");
	sh_err e = call(c, "/v3/kv/range", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	int bad = ej_decode_range(resp, out);
	cJSON_Delete(resp);
	return bad ? etcd_malformed(c, "range") : SH_OK;
}

sh_err etcd_get(etcd_client *c, const char *key, etcd_kv *kv, int64_t *revision)
{
	etcd_range_result r;
	memset(kv, 0, sizeof(*kv));
	sh_err e = etcd_range(c, key, NULL, &r);
	if (e)
		return e;
	if (revision)
		*revision = r.revision;
	if (r.n == 0) {
		etcd_range_result_free(&r);
		etcd_setf(c, "key '%s' not found in etcd", key);
		return SH_E_NOT_FOUND;
	}
	*kv = r.kvs[0];
	for (size_t i = 1; i < r.n; i++)
		etcd_kv_free(&r.kvs[i]);
	free(r.kvs);
	return SH_OK;
}

sh_err etcd_put(etcd_client *c, const char *key, const void *value, size_t value_len,
		const etcd_put_opts *opts, int64_t *revision, etcd_kv *prev)
{
	if (prev)
		memset(prev, 0, sizeof(*prev));
	if (value_len > c->max_value) {
		etcd_setf(c, "value of %zu bytes for key '%s' exceeds the limit of %zu bytes", value_len, key,
			  c->max_value);
		return SH_E_TOO_LARGE;
	}
	if (c->grpc)
		return ep_put(c, key, value, value_len, opts, revision, prev);
	cJSON *req = cJSON_CreateObject(), *resp;
	int bad = !req || ej_add_b64(req, "key", key, strlen(key)) ||
		  ej_add_b64(req, "value", value ? value : "", value ? value_len : 0);
	if (!bad && opts && opts->lease)
		bad = ej_add_i64(req, "lease", opts->lease);
	if (!bad && (prev || (opts && opts->prev_kv)))
		bad = !cJSON_AddTrueToObject(req, "prev_kv");
	if (bad) {
		cJSON_Delete(req);
		return etcd_nomem(c, "put");
	}
	sh_err e = call(c, "/v3/kv/put", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	int64_t rev = 0;
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(resp, "header");
	bad = !cJSON_IsObject(h) || ej_i64(h, "revision", &rev);
	const cJSON *pk = cJSON_GetObjectItemCaseSensitive(resp, "prev_kv");
	if (!bad && prev && pk)
		bad = ej_decode_kv(pk, prev);
	cJSON_Delete(resp);
	if (bad)
		return etcd_malformed(c, "put");
	if (revision)
		*revision = rev;
	return SH_OK;
}

sh_err etcd_delete(etcd_client *c, const char *key, const etcd_delete_opts *opts, etcd_delete_result *out)
{
	etcd_delete_result dummy;
	if (!out)
		out = &dummy;
	memset(out, 0, sizeof(*out));
	if (c->grpc) {
		sh_err ge = ep_delete(c, key, opts, out);
		if (out == &dummy)
			etcd_delete_result_free(&dummy);
		return ge;
	}
	etcd_range_opts ro = {0};
	if (opts) {
		ro.prefix = opts->prefix;
		ro.range_end = opts->range_end;
	}
	/* same key/range_end encoding as range */
	cJSON *req = ej_range_request(key, &ro), *resp;
	if (!req || (opts && opts->prev_kv && !cJSON_AddTrueToObject(req, "prev_kv"))) {
		cJSON_Delete(req);
		return etcd_nomem(c, "delete");
	}
	sh_err e = call(c, "/v3/kv/deleterange", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	etcd_range_result tmp;
	int bad = ej_i64(resp, "deleted", &out->deleted);
	if (!bad) {
		/* reuse the range decoder for header + prev_kvs */
		cJSON *kvs = cJSON_DetachItemFromObjectCaseSensitive(resp, "prev_kvs");
		if (kvs)
			cJSON_AddItemToObject(resp, "kvs", kvs);
		bad = ej_decode_range(resp, &tmp);
		if (!bad) {
			out->revision = tmp.revision;
			out->prev_kvs = tmp.kvs;
			out->n = tmp.n;
		}
	}
	cJSON_Delete(resp);
	if (out == &dummy)
		etcd_delete_result_free(&dummy);
	return bad ? etcd_malformed(c, "deleterange") : SH_OK;
}

sh_err etcd_txn(etcd_client *c, const etcd_cmp *cmps, size_t ncmp, const etcd_op *then_ops, size_t nthen,
		const etcd_op *else_ops, size_t nelse, etcd_txn_result *out)
{
	etcd_txn_result dummy;
	if (!out)
		out = &dummy;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < nthen + nelse; i++) {
		const etcd_op *op = i < nthen ? &then_ops[i] : &else_ops[i - nthen];
		if (op->kind == ETCD_OP_PUT && op->value_len > c->max_value) {
			etcd_setf(c, "value of %zu bytes for key '%s' exceeds the limit of %zu bytes",
				  op->value_len, op->key, c->max_value);
			return SH_E_TOO_LARGE;
		}
	}
	if (c->grpc) {
		sh_err ge = ep_txn(c, cmps, ncmp, then_ops, nthen, else_ops, nelse, out);
		if (out == &dummy)
			etcd_txn_result_free(&dummy);
		return ge;
	}
	cJSON *req = ej_txn_request(cmps, ncmp, then_ops, nthen, else_ops, nelse), *resp;
	if (!req) {
		etcd_setf(c, "invalid or unencodable txn request");
		return SH_E_INVAL;
	}
	sh_err e = call(c, "/v3/kv/txn", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	int bad = ej_decode_txn(resp, out);
	cJSON_Delete(resp);
	if (out == &dummy)
		etcd_txn_result_free(&dummy);
	return bad ? etcd_malformed(c, "txn") : SH_OK;
}

sh_err etcd_lease_grant(etcd_client *c, int64_t ttl_s, int64_t *id, int64_t *granted_ttl)
{
	if (c->grpc)
		return ep_lease_grant(c, ttl_s, id, granted_ttl);
	cJSON *req = cJSON_CreateObject(), *resp;
	if (!req || ej_add_i64(req, "TTL", ttl_s)) {
		cJSON_Delete(req);
		return etcd_nomem(c, "lease grant");
	}
	sh_err e = call(c, "/v3/lease/grant", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	int64_t lid = 0, ttl = 0;
	int bad = ej_i64(resp, "ID", &lid) || ej_i64(resp, "TTL", &ttl) || lid == 0;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
	if (!bad && cJSON_IsString(err) && *err->valuestring) {
		etcd_setf(c, "etcd refused lease grant: %s", err->valuestring);
		cJSON_Delete(resp);
		return SH_E_GRPC;
	}
	cJSON_Delete(resp);
	if (bad)
		return etcd_malformed(c, "lease grant");
	*id = lid;
	if (granted_ttl)
		*granted_ttl = ttl;
	return SH_OK;
}

sh_err etcd_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl)
{
	if (c->grpc)
		return ep_lease_keepalive(c, id, ttl);
	cJSON *req = cJSON_CreateObject(), *resp;
	if (!req || ej_add_i64(req, "ID", id)) {
		cJSON_Delete(req);
		return etcd_nomem(c, "lease keepalive");
	}
	sh_err e = call(c, "/v3/lease/keepalive", req, &resp, 1);
	cJSON_Delete(req);
	if (e)
		return e;
	int64_t t = 0;
	int bad = ej_i64(resp, "TTL", &t);
	cJSON_Delete(resp);
	if (bad)
		return etcd_malformed(c, "lease keepalive");
	if (t <= 0) {
		etcd_setf(c, "lease %llx expired or was revoked", (unsigned long long)id);
		return SH_E_LEASE_LOST;
	}
	if (ttl)
		*ttl = t;
	return SH_OK;
}

sh_err etcd_lease_revoke(etcd_client *c, int64_t id)
{
	if (c->grpc)
		return ep_lease_revoke(c, id);
	cJSON *req = cJSON_CreateObject(), *resp;
	if (!req || ej_add_i64(req, "ID", id)) {
		cJSON_Delete(req);
		return etcd_nomem(c, "lease revoke");
	}
	sh_err e = call(c, "/v3/lease/revoke", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	cJSON_Delete(resp);
	return SH_OK;
}

sh_err etcd_lease_ttl(etcd_client *c, int64_t id, int64_t *ttl, int64_t *granted_ttl, etcd_range_result *keys)
{
	if (c->grpc)
		return ep_lease_ttl(c, id, ttl, granted_ttl, keys);
	if (keys)
		memset(keys, 0, sizeof(*keys));
	cJSON *req = cJSON_CreateObject(), *resp;
	if (!req || ej_add_i64(req, "ID", id) || (keys && !cJSON_AddTrueToObject(req, "keys"))) {
		cJSON_Delete(req);
		return etcd_nomem(c, "lease timetolive");
	}
	sh_err e = call(c, "/v3/lease/timetolive", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	int64_t t = 0, g = 0;
	const cJSON *ttlf = cJSON_GetObjectItemCaseSensitive(resp, "TTL");
	int bad = ej_i64(resp, "TTL", &t) || ej_i64(resp, "grantedTTL", &g);
	if (!ttlf)
		t = -1; /* omitted: expired */
	if (!bad && keys) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(resp, "keys");
		if (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) > 0) {
			keys->kvs = calloc((size_t)cJSON_GetArraySize(arr), sizeof(etcd_kv));
			const cJSON *it;
			cJSON_ArrayForEach(it, arr)
			{
				if (!keys->kvs || !cJSON_IsString(it)) {
					bad = 1;
					break;
				}
				etcd_kv *kv = &keys->kvs[keys->n];
				kv->key = sh_b64_decode(it->valuestring, strlen(it->valuestring), &kv->key_len);
				kv->value = calloc(1, 1);
				keys->n++;
				if (!kv->key || !kv->value) {
					bad = 1;
					break;
				}
			}
		}
	}
	cJSON_Delete(resp);
	if (bad) {
		if (keys)
			etcd_range_result_free(keys);
		return etcd_malformed(c, "lease timetolive");
	}
	*ttl = t;
	if (granted_ttl)
		*granted_ttl = g;
	return SH_OK;
}

sh_err etcd_status_get(etcd_client *c, etcd_status *st)
{
	if (c->grpc)
		return ep_status_get(c, st);
	memset(st, 0, sizeof(*st));
	cJSON *req = cJSON_CreateObject(), *resp;
	if (!req)
		return etcd_nomem(c, "status");
	sh_err e = call(c, "/v3/maintenance/status", req, &resp, 0);
	cJSON_Delete(req);
	if (e)
		return e;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "version");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(resp, "header");
	int bad = !cJSON_IsString(v) || ej_i64(resp, "dbSize", &st->db_size) ||
		  ej_u64(resp, "leader", &st->leader) || ej_i64(resp, "raftIndex", &st->raft_index) ||
		  ej_i64(resp, "raftTerm", &st->raft_term) || !cJSON_IsObject(h) ||
		  ej_i64(h, "revision", &st->revision) || ej_u64(h, "member_id", &st->member_id);
	if (!bad)
		snprintf(st->version, sizeof(st->version), "%s", v->valuestring);
	cJSON_Delete(resp);
	return bad ? etcd_malformed(c, "status") : SH_OK;
}
