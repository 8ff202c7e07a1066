/* SPDX-License-Identifier: MIT */
/* dock_client.c - Docker Engine API transport (unix socket, tcp+TLS), version negotiation, JSON calls */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dock_internal.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_BODY (64u * 1024 * 1024)
#define MIN_API_MAJOR 1
#define MIN_API_MINOR 41

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void dock_setf(dock_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errbuf, sizeof(c->errbuf), fmt, ap);
	va_end(ap);
}

const char *dock_errmsg(const dock_client *c)
{
	return c->errbuf;
}

const char *dock_host(const dock_client *c)
{
	return c->host;
}

static char *dupz(const char *s)
{
	return s ? strdup(s) : NULL;
}

sh_err dock_client_new(const dock_config *cfg, dock_client **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	const char *host = cfg && cfg->host && *cfg->host ? cfg->host : getenv("DOCKER_HOST");
	if (!host || !*host)
		host = "unix:///var/run/docker.sock";
	dock_client *c = calloc(1, sizeof(*c));
	if (!c)
		return SH_E_NOMEM;
	c->host = strdup(host);
	c->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (cfg) {
		c->ca = dupz(cfg->tls_ca);
		c->cert = dupz(cfg->tls_cert);
		c->key = dupz(cfg->tls_key);
	}
	c->h = curl_easy_init();
	if (!c->host || !c->h) {
		dock_client_free(c);
		return SH_E_NOMEM;
	}
	if (!strncmp(host, "unix://", 7)) {
		if (!host[7]) {
			if (errbuf)
				snprintf(errbuf, errlen, "docker host '%s' names no socket", host);
			dock_client_free(c);
			return SH_E_INVAL;
		}
		c->socket = strdup(host + 7);
		c->base = strdup("http://localhost");
	} else if (!strncmp(host, "tcp://", 6)) {
		int tls = c->cert || c->ca;
		size_t n = strlen(host) + 16;
		c->base = malloc(n);
		if (c->base)
			snprintf(c->base, n, "%s://%s", tls ? "https" : "http", host + 6);
		while (c->base && strlen(c->base) && c->base[strlen(c->base) - 1] == '/')
			c->base[strlen(c->base) - 1] = '\0';
	} else {
		if (errbuf)
			snprintf(errbuf, errlen, "unsupported docker host '%s' (want unix:// or tcp://)", host);
		dock_client_free(c);
		return SH_E_INVAL;
	}
	if ((c->cert && !c->key) || (!c->cert && c->key)) {
		if (errbuf)
			snprintf(errbuf, errlen, "--docker-tls-cert and --docker-tls-key must be given together");
		dock_client_free(c);
		return SH_E_INVAL;
	}
	if (!c->base) {
		dock_client_free(c);
		return SH_E_NOMEM;
	}
	*out = c;
	return SH_OK;
}

void dock_client_free(dock_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c->host);
	free(c->socket);
	free(c->base);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c);
}

void dock_curl_setup(dock_client *c, CURL *h, long timeout_ms)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 && timeout_ms > 0 ? timeout_ms : 2000L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	if (c->ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (c->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	}
}

void dock_describe_curl(dock_client *c, char *buf, size_t len, CURLcode rc, long oserr, const char *what)
{
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(buf, len, "engine at '%s' did not answer %s within %ld ms", c->host, what, c->timeout_ms);
	} else if (rc == CURLE_COULDNT_CONNECT && oserr) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%s", strerror((int)oserr));
		if (reason[0] >= 'A' && reason[0] <= 'Z')
			reason[0] = (char)(reason[0] + 32);
		snprintf(buf, len, "cannot reach engine at '%s': %s", c->host, reason);
	} else {
		snprintf(buf, len, "cannot reach engine at '%s': %s", c->host, curl_easy_strerror(rc));
	}
}

struct body {
	sh_buf b;
	int too_large;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *bd = ud;
	size_t n = size * nmemb;
	if (bd->b.len + n > MAX_BODY) {
		bd->too_large = 1;
		return 0;
	}
	return sh_buf_add(&bd->b, ptr, n) ? 0 : n;
}

void dock_set_abort(dock_client *c, dock_abort_fn fn, void *arg)
{
	c->abort_fn = fn;
	c->abort_arg = arg;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	dock_client *c = ud;
	long left = -1;
	c->aborted = c->abort_fn(c->abort_arg, &left);
	return c->aborted != SH_OK;
}

static sh_err gave_up(dock_client *c, const char *what)
{
	dock_setf(c, "gave up %s at engine '%s': %s", what, c->host, sh_strerror(c->aborted));
	return c->aborted;
}

/* One HTTP exchange; the raw body in *body (caller releases). */
static sh_err http(dock_client *c, const char *method, const char *url, const char *json, const char *what, long *status,
		   sh_buf *body)
{
	CURL *h = c->h;
	c->aborted = SH_OK;
	long left = -1, timeout = c->timeout_ms;
	if (c->abort_fn && (c->aborted = c->abort_fn(c->abort_arg, &left)) != SH_OK)
		return gave_up(c, what);
	/* the owner's limit, when nearer than the timeout: libcurl's own timer ends the request there */
	int capped = left >= 0 && left < timeout;
	if (capped)
		timeout = left > 0 ? left : 1;
	curl_easy_reset(h);
	dock_curl_setup(c, h, timeout);
	if (c->abort_fn) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	struct curl_slist *hd = NULL;
	if (json) {
		hd = curl_slist_append(hd, "Content-Type: application/json");
		hd = curl_slist_append(hd, "Expect:");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	struct body bd = {SH_BUF_INIT, 0};
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bd);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hd);
	if (rc == CURLE_OPERATION_TIMEDOUT && capped) {
		/* cut at the owner's limit: given up, never sent again (it may have been applied) */
		long l2 = -1;
		c->aborted = c->abort_fn(c->abort_arg, &l2);
		/* libcurl's timer can fire a millisecond or two before the owner's clock reaches its limit (each rounds
		 * on its own): wait that out and ask again, so a call cut at the limit reads as given up */
		if (c->aborted == SH_OK && l2 >= 0 && l2 <= 50) {
			sh_sleep_ms(l2 + 1, NULL);
			l2 = -1;
			c->aborted = c->abort_fn(c->abort_arg, &l2);
		}
		if (c->aborted == SH_OK)
			c->aborted = SH_E_TIMEOUT; /* the limit moved meanwhile: a plain timeout */
	}
	if ((rc == CURLE_ABORTED_BY_CALLBACK || (rc == CURLE_OPERATION_TIMEDOUT && capped)) && c->aborted != SH_OK) {
		sh_buf_release(&bd.b);
		if (c->aborted == SH_E_TIMEOUT) {
			dock_setf(c, "engine at '%s' did not answer %s within %ld ms (the owner's limit)", c->host, what,
				  timeout);
			return SH_E_TIMEOUT;
		}
		return gave_up(c, what);
	}
	if (rc != CURLE_OK) {
		long oserr = 0;
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (bd.too_large)
			dock_setf(c, "answer of engine at '%s' to %s exceeds %u bytes", c->host, what, MAX_BODY);
		else
			dock_describe_curl(c, c->errbuf, sizeof(c->errbuf), rc, oserr, what);
		sh_buf_release(&bd.b);
		return bd.too_large ? SH_E_TOO_LARGE
		       : rc == CURLE_OPERATION_TIMEDOUT ? SH_E_TIMEOUT
		       : (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) ? SH_E_UNREACHABLE
											: SH_E_IO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*body = bd.b;
	return SH_OK;
}

static sh_err negotiate(dock_client *c)
{
	if (c->api[0])
		return SH_OK;
	char url[512];
	snprintf(url, sizeof(url), "%s/version", c->base);
	long status = 0;
	sh_buf body = SH_BUF_INIT;
	sh_err e = http(c, "GET", url, NULL, "version query", &status, &body);
	if (e)
		return e;
	cJSON *j = body.buf ? cJSON_ParseWithLength(body.buf, body.len) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "ApiVersion");
	int major = 0, minor = 0;
	if (status != 200 || !cJSON_IsString(v) || sscanf(v->valuestring, "%d.%d", &major, &minor) != 2) {
		dock_setf(c, "engine at '%s' gave no usable API version (HTTP %ld)", c->host, status);
		cJSON_Delete(j);
		sh_buf_release(&body);
		return SH_E_PROTO;
	}
	cJSON_Delete(j);
	sh_buf_release(&body);
	if (major < MIN_API_MAJOR || (major == MIN_API_MAJOR && minor < MIN_API_MINOR)) {
		dock_setf(c, "engine at '%s' speaks API %d.%d; swarmheal needs %d.%d or newer", c->host, major, minor,
			  MIN_API_MAJOR, MIN_API_MINOR);
		return SH_E_PROTO;
	}
	snprintf(c->api, sizeof(c->api), "%d.%d", major, minor);
	return SH_OK;
}

const char *dock_api_version(dock_client *c)
{
	negotiate(c);
	return c->api;
}

sh_err dock_url(dock_client *c, const char *path, char *url, size_t len)
{
	sh_err e = negotiate(c);
	if (e)
		return e;
	snprintf(url, len, "%s/v%s%s", c->base, c->api, path);
	return SH_OK;
}

/* cJSON prints integers above INT_MAX with %g, so 7776000000000000 (90 days in
 * ns) would go out as 7.776e+15, which the engine's Go decoder refuses for an
 * int64. Integral numbers are re-emitted as raw integer text. */
static void fix_ints(cJSON *o)
{
	for (cJSON *it = o ? o->child : NULL; it; it = it->next) {
		if (cJSON_IsNumber(it)) {
			double d = it->valuedouble;
			if (d == (double)(long long)d && (d > 2147483647.0 || d < -2147483648.0)) {
				char num[32];
				snprintf(num, sizeof(num), "%lld", (long long)d);
				char *raw = strdup(num);
				if (raw) {
					it->type = cJSON_Raw;
					it->valuestring = raw;
				}
			}
		} else {
			fix_ints(it);
		}
	}
}

char *dock_print_json(const cJSON *j)
{
	cJSON *copy = cJSON_Duplicate(j, 1);
	if (!copy)
		return NULL;
	fix_ints(copy);
	char *s = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return s;
}

sh_err dock_call(dock_client *c, const char *method, const char *path, const cJSON *req, const char *what,
		 cJSON **out)
{
	if (out)
		*out = NULL;
	char url[2048];
	sh_err e = dock_url(c, path, url, sizeof(url));
	if (e)
		return e;
	char *json = req ? dock_print_json(req) : NULL;
	if (req && !json) {
		dock_setf(c, "out of memory encoding %s", what);
		return SH_E_NOMEM;
	}
	long status = 0;
	sh_buf body = SH_BUF_INIT;
	e = http(c, method, url, json, what, &status, &body);
	free(json);
	if (e)
		return e;
	cJSON *j = body.len ? cJSON_ParseWithLength(body.buf, body.len) : NULL;
	if (status < 200 || status > 299) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		char msg[400];
		if (cJSON_IsString(m))
			snprintf(msg, sizeof(msg), "%s", m->valuestring);
		else
			snprintf(msg, sizeof(msg), "HTTP %ld%s%.80s", status, body.len ? ": " : "", body.len ? body.buf : "");
		dock_setf(c, "engine at '%s' refused %s: %s", c->host, what, msg);
		cJSON_Delete(j);
		sh_buf_release(&body);
		if (strstr(msg, "out of sequence"))
			return SH_E_CONFLICT;
		if (status == 404)
			return SH_E_NOT_FOUND;
		if (status == 409)
			return SH_E_CONFLICT;
		if (status == 503)
			return SH_E_UNAVAILABLE;
		return SH_E_HTTP;
	}
	if (out) {
		if (!j && status != 204 && body.len) {
			dock_setf(c, "malformed JSON from engine at '%s' for %s (%zu bytes)", c->host, what, body.len);
			sh_buf_release(&body);
			return SH_E_PROTO;
		}
		*out = j;
	} else {
		cJSON_Delete(j);
	}
	sh_buf_release(&body);
	return SH_OK;
}

const cJSON *jpath(const cJSON *o, const char *path)
{
	char key[128];
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
		path += n + (dot ? 1 : 0);
	}
	return o;
}

void jcopy(char *dst, size_t len, const cJSON *o, const char *path)
{
	const cJSON *v = jpath(o, path);
	snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int64_t jint(const cJSON *o, const char *path, int64_t dflt)
{
	const cJSON *v = jpath(o, path);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

int64_t jtime(const cJSON *o, const char *path)
{
	const cJSON *v = jpath(o, path);
	int64_t ns = 0;
	if (cJSON_IsString(v) && sh_parse_rfc3339(v->valuestring, &ns) == 0 && ns > 0)
		return ns;
	return 0;
}

cJSON *jdup(const cJSON *o)
{
	return o && !cJSON_IsNull(o) ? cJSON_Duplicate(o, 1) : NULL;
}

void urlencode(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *src && o + 4 < len; src++) {
		unsigned char ch = (unsigned char)*src;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_' || ch == '.' || ch == '~') {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
}

int dock_id_ok(const char *id)
{
	if (!id || !*id || strlen(id) > 128)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return 0;
	return 1;
}
