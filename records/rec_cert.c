/* SPDX-License-Identifier: MIT */
/* rec_cert.c - certificate spec and status records: keys, JSON encode, strict parse */
#include "rec_cert.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sh_util.h"

static const char *const key_names[] = {"ec-p256", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"};

const char *rec_cert_key_type_name(rec_cert_key_type t)
{
	return (unsigned)t < sizeof(key_names) / sizeof(key_names[0]) ? key_names[t] : "?";
}

int rec_cert_key_type_parse(const char *name, rec_cert_key_type *t)
{
	for (size_t i = 0; name && i < sizeof(key_names) / sizeof(key_names[0]); i++)
		if (!strcmp(name, key_names[i])) {
			*t = (rec_cert_key_type)i;
			return 0;
		}
	return -1;
}

int rec_cert_spec_key(char *buf, size_t len, const char *prefix, const char *name)
{
	return rec_key(buf, len, prefix, REC_CERT_PATH_SPECS, name ? name : "");
}

int rec_cert_status_key(char *buf, size_t len, const char *prefix, const char *name)
{
	return rec_key(buf, len, prefix, REC_CERT_PATH_STATUS, name ? name : "");
}

void rec_duration_format(int64_t ns, char *out, size_t outlen)
{
	if (ns <= 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	int64_t ms = ns / SH_NS_PER_MS;
	if (ms % 1000) {
		snprintf(out, outlen, "%" PRId64 "ms", ms);
		return;
	}
	int64_t s = ms / 1000, h = s / 3600, m = s / 60 % 60, sec = s % 60;
	size_t n = 0;
	out[0] = '\0';
	if (h)
		n += (size_t)snprintf(out + n, outlen - n, "%" PRId64 "h", h);
	if (m && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, "%" PRId64 "m", m);
	if (sec && n < outlen)
		snprintf(out + n, outlen - n, "%" PRId64 "s", sec);
}

/* ---- encode ---- */

static cJSON *str_array(const char (*v)[REC_CERT_NAME_LEN], size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

static int add_time(cJSON *o, const char *name, int64_t ns)
{
	if (!ns)
		return 0;
	char t[40];
	sh_rfc3339(ns, t, sizeof(t));
	return cJSON_AddStringToObject(o, name, t) ? 0 : -1;
}

static int add_duration(cJSON *o, const char *name, int64_t ns)
{
	char d[40];
	rec_duration_format(ns, d, sizeof(d));
	return cJSON_AddStringToObject(o, name, d) ? 0 : -1;
}

static char *finish(cJSON *o, int bad)
{
	char *s = bad ? NULL : cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *rec_cert_spec_encode(const rec_cert_spec *s)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	int bad = !cJSON_AddStringToObject(o, "common_name", s->common_name);
	cJSON *dns = str_array(s->dns_names, s->n_dns);
	bad |= !dns || !cJSON_AddItemToObject(o, "dns_names", dns);
	cJSON *ip = cJSON_CreateArray();
	for (size_t i = 0; ip && i < s->n_ip; i++)
		bad |= !cJSON_AddItemToArray(ip, cJSON_CreateString(s->ip_addresses[i]));
	bad |= !ip || !cJSON_AddItemToObject(o, "ip_addresses", ip);
	bad |= add_duration(o, "duration", s->duration_ns);
	if (s->renew_before_ns)
		bad |= add_duration(o, "renew_before", s->renew_before_ns);
	bad |= !cJSON_AddStringToObject(o, "key_type", rec_cert_key_type_name(s->key_type));
	cJSON *ca = cJSON_AddObjectToObject(o, "ca");
	bad |= !ca || !cJSON_AddStringToObject(ca, "cert_file", s->ca.cert_file) ||
	       !cJSON_AddStringToObject(ca, "key_file", s->ca.key_file);
	if (ca && s->ca.chain_file[0])
		bad |= !cJSON_AddStringToObject(ca, "chain_file", s->ca.chain_file);
	if (s->has_files) {
		cJSON *f = cJSON_AddObjectToObject(o, "files");
		bad |= !f || !cJSON_AddStringToObject(f, "cert", s->files.cert) ||
		       !cJSON_AddStringToObject(f, "key", s->files.key) ||
		       !cJSON_AddStringToObject(f, "signal", s->files.signal[0] ? s->files.signal : "SIGHUP");
		if (f && s->files.chain[0])
			bad |= !cJSON_AddStringToObject(f, "chain", s->files.chain);
		if (f && s->files.reload_label[0])
			bad |= !cJSON_AddStringToObject(f, "reload_label", s->files.reload_label);
	}
	if (s->has_secret) {
		cJSON *sec = cJSON_AddObjectToObject(o, "secret");
		bad |= !sec || !cJSON_AddStringToObject(sec, "name", s->secret.name);
		cJSON *svc = str_array(s->secret.services, s->secret.n_services);
		bad |= !svc || !sec || !cJSON_AddItemToObject(sec, "services", svc);
	}
	return finish(o, bad);
}

char *rec_cert_status_encode(const rec_cert_status *s)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	int bad = !cJSON_AddStringToObject(o, "serial", s->serial);
	bad |= add_time(o, "not_before", s->not_before_ns) | add_time(o, "not_after", s->not_after_ns) |
	       add_time(o, "next_renewal", s->next_renewal_ns) | add_time(o, "renewed_at", s->renewed_at_ns) |
	       add_time(o, "next_retry", s->next_retry_ns);
	bad |= !cJSON_AddNumberToObject(o, "failures", (double)s->failures);
	if (s->secret_version)
		bad |= !cJSON_AddNumberToObject(o, "secret_version", (double)s->secret_version);
	if (s->spec_digest[0])
		bad |= !cJSON_AddStringToObject(o, "spec_digest", s->spec_digest);
	bad |= !cJSON_AddStringToObject(o, "last_error", s->last_error);
	return finish(o, bad);
}

/* ---- parse ---- */

typedef struct pctx {
	char *why;
	size_t wlen;
} pctx;

static sh_err fail(pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sh_err fail(pctx *p, const char *fmt, ...)
{
	if (p->why && p->wlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->why, p->wlen, fmt, ap);
		va_end(ap);
	}
	return SH_E_MALFORMED;
}

/* Optional (req=0) or required string field copied into dst; name is the dotted field name for messages. */
static sh_err get_str(pctx *p, const cJSON *o, const char *key, const char *name, int req, char *dst, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v)) {
		if (req)
			return fail(p, "field '%s' is missing", name);
		return SH_OK;
	}
	if (!cJSON_IsString(v))
		return fail(p, "field '%s' is not a string", name);
	if (req && !v->valuestring[0])
		return fail(p, "field '%s' is empty", name);
	if (strlen(v->valuestring) >= len)
		return fail(p, "field '%s' is longer than %zu bytes", name, len - 1);
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return SH_OK;
}

static sh_err get_names(pctx *p, const cJSON *o, const char *key, const char *name, char *dst, size_t each, size_t *n)
{
	*n = 0;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!a || cJSON_IsNull(a))
		return SH_OK;
	if (!cJSON_IsArray(a))
		return fail(p, "field '%s' is not an array", name);
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	{
		if (*n >= REC_CERT_MAX_NAMES)
			return fail(p, "field '%s' has more than %d entries", name, REC_CERT_MAX_NAMES);
		if (!cJSON_IsString(it) || !it->valuestring[0])
			return fail(p, "field '%s' entry %zu is not a non-empty string", name, *n);
		if (strlen(it->valuestring) >= each)
			return fail(p, "field '%s' entry %zu is longer than %zu bytes", name, *n, each - 1);
		memcpy(dst + *n * each, it->valuestring, strlen(it->valuestring) + 1);
		(*n)++;
	}
	return SH_OK;
}

static sh_err get_duration(pctx *p, const cJSON *o, const char *key, int req, int64_t *ns)
{
	*ns = 0;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return req ? fail(p, "field '%s' is missing", key) : SH_OK;
	if (!cJSON_IsString(v))
		return fail(p, "field '%s' is not a string", key);
	int64_t ms;
	if (sh_parse_duration_ms(v->valuestring, &ms) || ms <= 0 || ms > INT64_MAX / SH_NS_PER_MS)
		return fail(p, "field '%s' is not a positive duration: '%.60s'", key, v->valuestring);
	*ns = ms * SH_NS_PER_MS;
	return SH_OK;
}

static const cJSON *get_obj(pctx *p, const cJSON *o, const char *key, sh_err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	*e = SH_OK;
	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsObject(v)) {
		*e = fail(p, "field '%s' is not an object", key);
		return NULL;
	}
	return v;
}

/* Docker's rule for object names: alphanumerics, then [a-zA-Z0-9_.-], ending alphanumeric. */
static int docker_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

static const char *const signals[] = {"SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGWINCH",
				      "HUP",    "INT",    "QUIT",    "USR1",    "USR2",    "TERM",    "WINCH"};

static int signal_ok(const char *s)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcmp(s, signals[i]))
			return 1;
	return 0;
}

#define TRY(x)                                                                                                         \
	do {                                                                                                           \
		sh_err e_ = (x);                                                                                       \
		if (e_)                                                                                                \
			return e_;                                                                                     \
	} while (0)

static sh_err spec_fields(pctx *p, const cJSON *o, rec_cert_spec *s)
{
	if (!cJSON_IsObject(o))
		return fail(p, "spec is not a JSON object");
	TRY(get_str(p, o, "common_name", "common_name", 1, s->common_name, sizeof(s->common_name)));
	TRY(get_names(p, o, "dns_names", "dns_names", &s->dns_names[0][0], REC_CERT_NAME_LEN, &s->n_dns));
	TRY(get_names(p, o, "ip_addresses", "ip_addresses", &s->ip_addresses[0][0], sizeof(s->ip_addresses[0]),
		      &s->n_ip));
	for (size_t i = 0; i < s->n_ip; i++) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, s->ip_addresses[i], buf) != 1 &&
		    inet_pton(AF_INET6, s->ip_addresses[i], buf) != 1)
			return fail(p, "field 'ip_addresses' entry %zu is not an IP address: '%s'", i,
				    s->ip_addresses[i]);
	}
	if (!s->n_dns && !s->n_ip)
		return fail(p, "fields 'dns_names' and 'ip_addresses' are both empty (a certificate needs a SAN)");
	TRY(get_duration(p, o, "duration", 1, &s->duration_ns));
	TRY(get_duration(p, o, "renew_before", 0, &s->renew_before_ns));
	if (s->renew_before_ns && s->renew_before_ns >= s->duration_ns)
		return fail(p, "field 'renew_before' is not shorter than 'duration'");
	char kt[32] = "";
	TRY(get_str(p, o, "key_type", "key_type", 0, kt, sizeof(kt)));
	if (kt[0] && rec_cert_key_type_parse(kt, &s->key_type))
		return fail(p, "field 'key_type' is not one of ec-p256, rsa-2048, rsa-3072, rsa-4096, ed25519: '%s'",
			    kt);
	sh_err e;
	const cJSON *ca = get_obj(p, o, "ca", &e);
	if (e)
		return e;
	if (!ca)
		return fail(p, "field 'ca' is missing");
	TRY(get_str(p, ca, "cert_file", "ca.cert_file", 1, s->ca.cert_file, sizeof(s->ca.cert_file)));
	TRY(get_str(p, ca, "key_file", "ca.key_file", 1, s->ca.key_file, sizeof(s->ca.key_file)));
	TRY(get_str(p, ca, "chain_file", "ca.chain_file", 0, s->ca.chain_file, sizeof(s->ca.chain_file)));
	const cJSON *f = get_obj(p, o, "files", &e);
	if (e)
		return e;
	if (f) {
		s->has_files = 1;
		TRY(get_str(p, f, "cert", "files.cert", 1, s->files.cert, sizeof(s->files.cert)));
		TRY(get_str(p, f, "key", "files.key", 1, s->files.key, sizeof(s->files.key)));
		TRY(get_str(p, f, "chain", "files.chain", 0, s->files.chain, sizeof(s->files.chain)));
		TRY(get_str(p, f, "reload_label", "files.reload_label", 0, s->files.reload_label,
			    sizeof(s->files.reload_label)));
		TRY(get_str(p, f, "signal", "files.signal", 0, s->files.signal, sizeof(s->files.signal)));
		if (!s->files.signal[0])
			snprintf(s->files.signal, sizeof(s->files.signal), "SIGHUP");
		else if (!signal_ok(s->files.signal))
			return fail(p, "field 'files.signal' is not a reload signal name: '%s'", s->files.signal);
		if (s->files.reload_label[0] && s->files.reload_label[0] == '=')
			return fail(p, "field 'files.reload_label' is not a label or label=value: '%s'",
				    s->files.reload_label);
	}
	const cJSON *sec = get_obj(p, o, "secret", &e);
	if (e)
		return e;
	if (sec) {
		s->has_secret = 1;
		TRY(get_str(p, sec, "name", "secret.name", 1, s->secret.name, sizeof(s->secret.name)));
		if (!docker_name_ok(s->secret.name))
			return fail(p, "field 'secret.name' is not a Docker object name: '%s'", s->secret.name);
		TRY(get_names(p, sec, "services", "secret.services", &s->secret.services[0][0], REC_CERT_NAME_LEN,
			      &s->secret.n_services));
	}
	if (!s->has_files && !s->has_secret)
		return fail(p, "fields 'files' and 'secret' are both missing (say where the certificate goes)");
	return SH_OK;
}

sh_err rec_cert_spec_parse(const char *json, size_t len, rec_cert_spec *out, char *why, size_t wlen)
{
	pctx p = {why, wlen};
	memset(out, 0, sizeof(*out));
	if (why && wlen)
		why[0] = '\0';
	cJSON *o = json ? cJSON_ParseWithLength(json, len) : NULL;
	if (!o)
		return fail(&p, "spec is not valid JSON");
	sh_err e = spec_fields(&p, o, out);
	cJSON_Delete(o);
	return e;
}

static sh_err get_time(pctx *p, const cJSON *o, const char *key, int64_t *ns)
{
	*ns = 0;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return SH_OK;
	if (!cJSON_IsString(v) || sh_parse_rfc3339(v->valuestring, ns))
		return fail(p, "field '%s' is not an RFC 3339 time", key);
	return SH_OK;
}

static sh_err get_count(pctx *p, const cJSON *o, const char *key, int64_t *v)
{
	*v = 0;
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j || cJSON_IsNull(j))
		return SH_OK;
	if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 9e15 ||
	    j->valuedouble != (double)(int64_t)j->valuedouble)
		return fail(p, "field '%s' is not a non-negative integer", key);
	*v = (int64_t)j->valuedouble;
	return SH_OK;
}

static sh_err status_fields(pctx *p, const cJSON *o, rec_cert_status *s)
{
	if (!cJSON_IsObject(o))
		return fail(p, "status is not a JSON object");
	TRY(get_str(p, o, "serial", "serial", 0, s->serial, sizeof(s->serial)));
	for (const char *c = s->serial; *c; c++)
		if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c))
			return fail(p, "field 'serial' is not lowercase hex");
	TRY(get_time(p, o, "not_before", &s->not_before_ns));
	TRY(get_time(p, o, "not_after", &s->not_after_ns));
	TRY(get_time(p, o, "next_renewal", &s->next_renewal_ns));
	TRY(get_time(p, o, "renewed_at", &s->renewed_at_ns));
	TRY(get_time(p, o, "next_retry", &s->next_retry_ns));
	TRY(get_count(p, o, "failures", &s->failures));
	TRY(get_count(p, o, "secret_version", &s->secret_version));
	TRY(get_str(p, o, "spec_digest", "spec_digest", 0, s->spec_digest, sizeof(s->spec_digest)));
	return get_str(p, o, "last_error", "last_error", 0, s->last_error, sizeof(s->last_error));
}

sh_err rec_cert_status_parse(const char *json, size_t len, rec_cert_status *out, char *why, size_t wlen)
{
	pctx p = {why, wlen};
	memset(out, 0, sizeof(*out));
	if (why && wlen)
		why[0] = '\0';
	cJSON *o = json ? cJSON_ParseWithLength(json, len) : NULL;
	if (!o)
		return fail(&p, "status is not valid JSON");
	sh_err e = status_fields(&p, o, out);
	cJSON_Delete(o);
	return e;
}
