/* SPDX-License-Identifier: MIT */
/* etcd_json.c - JSON gateway encoding: base64 keys, int64 strings, requests and responses */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

int ej_i64(const cJSON *obj, const char *name, int64_t *v)
{
	*v = 0;
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!f || cJSON_IsNull(f))
		return 0;
	if (cJSON_IsNumber(f)) {
		*v = (int64_t)f->valuedouble;
		return 0;
	}
	if (cJSON_IsString(f))
		return sh_parse_i64(f->valuestring, v);
	return -1;
}

int ej_u64(const cJSON *obj, const char *name, uint64_t *v)
{
	*v = 0;
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!f || cJSON_IsNull(f))
		return 0;
	if (cJSON_IsNumber(f) && f->valuedouble >= 0) {
		*v = (uint64_t)f->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(f) || !*f->valuestring || *f->valuestring == '-')
		return -1;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(f->valuestring, &end, 10);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

int ej_bytes(const cJSON *obj, const char *name, char **out, size_t *len)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!f || cJSON_IsNull(f)) {
		*out = calloc(1, 1);
		*len = 0;
		return *out ? 0 : -1;
	}
	if (!cJSON_IsString(f))
		return -1;
	*out = sh_b64_decode(f->valuestring, strlen(f->valuestring), len);
	return *out ? 0 : -1;
}

int ej_add_b64(cJSON *obj, const char *name, const void *data, size_t len)
{
	char *s = sh_b64_encode(data, len);
	if (!s)
		return -1;
	cJSON *str = cJSON_CreateString(s);
	free(s);
	if (!str)
		return -1;
	cJSON_AddItemToObject(obj, name, str);
	return 0;
}

int ej_add_i64(cJSON *obj, const char *name, int64_t v)
{
	char num[24];
	snprintf(num, sizeof(num), "%lld", (long long)v);
	return cJSON_AddStringToObject(obj, name, num) ? 0 : -1;
}

int ej_decode_kv(const cJSON *j, etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (!cJSON_IsObject(j))
		return -1;
	if (ej_bytes(j, "key", &kv->key, &kv->key_len) ||
	    ej_bytes(j, "value", &kv->value, &kv->value_len) ||
	    ej_i64(j, "create_revision", &kv->create_revision) ||
	    ej_i64(j, "mod_revision", &kv->mod_revision) ||
	    ej_i64(j, "version", &kv->version) || ej_i64(j, "lease", &kv->lease)) {
		etcd_kv_free(kv);
		return -1;
	}
	return 0;
}

static int decode_kvs(const cJSON *arr, etcd_kv **kvs, size_t *n)
{
	*kvs = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return -1;
	int cnt = cJSON_GetArraySize(arr);
	if (cnt == 0)
		return 0;
	*kvs = calloc((size_t)cnt, sizeof(etcd_kv));
	if (!*kvs)
		return -1;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (ej_decode_kv(it, &(*kvs)[*n])) {
			for (size_t i = 0; i < *n; i++)
				etcd_kv_free(&(*kvs)[i]);
			free(*kvs);
			*kvs = NULL;
			*n = 0;
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static int header_revision(const cJSON *j, int64_t *rev)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "header");
	*rev = 0;
	if (!h)
		return 0;
	if (!cJSON_IsObject(h))
		return -1;
	return ej_i64(h, "revision", rev);
}

int ej_decode_range(const cJSON *j, etcd_range_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(j))
		return -1;
	if (header_revision(j, &r->revision) || ej_i64(j, "count", &r->count))
		return -1;
	const cJSON *more = cJSON_GetObjectItemCaseSensitive(j, "more");
	r->more = cJSON_IsTrue(more);
	return decode_kvs(cJSON_GetObjectItemCaseSensitive(j, "kvs"), &r->kvs, &r->n);
}

int ej_decode_txn(const cJSON *j, etcd_txn_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(j))
		return -1;
	if (header_revision(j, &r->revision))
		return -1;
	r->succeeded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "succeeded"));
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "responses");
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return -1;
	int cnt = cJSON_GetArraySize(arr);
	if (cnt == 0)
		return 0;
	r->responses = calloc((size_t)cnt, sizeof(etcd_op_result));
	if (!r->responses)
		return -1;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		etcd_op_result *o = &r->responses[r->n];
		const cJSON *sub;
		int bad = 0;
		if ((sub = cJSON_GetObjectItemCaseSensitive(it, "response_range"))) {
			o->kind = ETCD_OP_RANGE;
			bad = ej_decode_range(sub, &o->range);
		} else if ((sub = cJSON_GetObjectItemCaseSensitive(it, "response_put"))) {
			o->kind = ETCD_OP_PUT;
			etcd_kv prev;
			const cJSON *pk = cJSON_GetObjectItemCaseSensitive(sub, "prev_kv");
			if (pk && !(bad = ej_decode_kv(pk, &prev))) {
				o->range.kvs = malloc(sizeof(etcd_kv));
				if (o->range.kvs) {
					o->range.kvs[0] = prev;
					o->range.n = 1;
				} else {
					etcd_kv_free(&prev);
					bad = 1;
				}
			}
		} else if ((sub = cJSON_GetObjectItemCaseSensitive(it, "response_delete_range"))) {
			o->kind = ETCD_OP_DELETE;
			bad = ej_i64(sub, "deleted", &o->deleted) ||
			      decode_kvs(cJSON_GetObjectItemCaseSensitive(sub, "prev_kvs"), &o->range.kvs,
					 &o->range.n);
		} else {
			bad = 1;
		}
		if (bad) {
			etcd_txn_result_free(r);
			return -1;
		}
		r->n++;
	}
	return 0;
}

int ej_decode_watch(const cJSON *res, etcd_watch_batch *b, int *created, int *canceled)
{
	memset(b, 0, sizeof(*b));
	*created = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created"));
	*canceled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "canceled"));
	if (!cJSON_IsObject(res) || header_revision(res, &b->revision) ||
	    ej_i64(res, "compact_revision", &b->compact_revision))
		return -1;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(res, "events");
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return -1;
	int cnt = cJSON_GetArraySize(arr);
	if (cnt == 0)
		return 0;
	b->events = calloc((size_t)cnt, sizeof(etcd_event));
	if (!b->events)
		return -1;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		etcd_event *e = &b->events[b->n];
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
		if (!type || (cJSON_IsString(type) && !strcmp(type->valuestring, "PUT")) ||
		    (cJSON_IsNumber(type) && type->valueint == 0))
			e->type = ETCD_EV_PUT;
		else if ((cJSON_IsString(type) && !strcmp(type->valuestring, "DELETE")) ||
			 (cJSON_IsNumber(type) && type->valueint == 1))
			e->type = ETCD_EV_DELETE;
		else
			goto bad;
		if (ej_decode_kv(cJSON_GetObjectItemCaseSensitive(it, "kv"), &e->kv))
			goto bad;
		const cJSON *pk = cJSON_GetObjectItemCaseSensitive(it, "prev_kv");
		if (pk) {
			if (ej_decode_kv(pk, &e->prev_kv)) {
				etcd_kv_free(&e->kv);
				goto bad;
			}
			e->has_prev = 1;
		}
		b->n++;
	}
	return 0;
bad:
	etcd_watch_batch_free(b);
	return -1;
}

static const char *sort_order_name[] = {"NONE", "ASCEND", "DESCEND"};
static const char *sort_target_name[] = {"KEY", "VERSION", "CREATE", "MOD", "VALUE"};

static int add_range_end(cJSON *req, const char *key, int prefix, const char *range_end)
{
	if (range_end)
		return ej_add_b64(req, "range_end", range_end, strlen(range_end));
	if (prefix) {
		size_t elen;
		char *end = etcd_prefix_end(key, strlen(key), &elen);
		if (!end)
			return -1;
		int r = ej_add_b64(req, "range_end", end, elen);
		free(end);
		return r;
	}
	return 0;
}

cJSON *ej_range_request(const char *key, const etcd_range_opts *o)
{
	static const etcd_range_opts none;
	if (!o)
		o = &none;
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return NULL;
	const char *k = (o->prefix && !*key) ? "\0" : key;
	size_t klen = (o->prefix && !*key) ? 1 : strlen(key);
	int bad = ej_add_b64(req, "key", k, klen) || add_range_end(req, key, o->prefix, o->range_end);
	if (o->limit)
		bad |= ej_add_i64(req, "limit", o->limit);
	if (o->revision)
		bad |= ej_add_i64(req, "revision", o->revision);
	if (o->sort_order && o->sort_order <= ETCD_SORT_DESCEND) {
		bad |= !cJSON_AddStringToObject(req, "sort_order", sort_order_name[o->sort_order]);
		bad |= !cJSON_AddStringToObject(req, "sort_target",
						sort_target_name[o->sort_target <= ETCD_SORT_VALUE ? o->sort_target : 0]);
	}
	if (o->keys_only)
		bad |= !cJSON_AddTrueToObject(req, "keys_only");
	if (o->count_only)
		bad |= !cJSON_AddTrueToObject(req, "count_only");
	if (o->serializable)
		bad |= !cJSON_AddTrueToObject(req, "serializable");
	if (o->min_create_revision)
		bad |= ej_add_i64(req, "min_create_revision", o->min_create_revision);
	if (o->max_create_revision)
		bad |= ej_add_i64(req, "max_create_revision", o->max_create_revision);
	if (o->min_mod_revision)
		bad |= ej_add_i64(req, "min_mod_revision", o->min_mod_revision);
	if (o->max_mod_revision)
		bad |= ej_add_i64(req, "max_mod_revision", o->max_mod_revision);
	if (bad) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static const char *cmp_target_name[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
static const char *cmp_result_name[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
static const char *cmp_field_name[] = {"version", "create_revision", "mod_revision", "value", "lease"};

static cJSON *op_json(const etcd_op *op)
{
	cJSON *wrap = cJSON_CreateObject(), *req = cJSON_CreateObject();
	if (!wrap || !req)
		goto bad;
	const char *k = (op->prefix && !*op->key) ? "\0" : op->key;
	size_t klen = (op->prefix && !*op->key) ? 1 : strlen(op->key);
	int bad = ej_add_b64(req, "key", k, klen);
	switch (op->kind) {
	case ETCD_OP_RANGE:
		bad |= add_range_end(req, op->key, op->prefix, NULL);
		if (op->limit)
			bad |= ej_add_i64(req, "limit", op->limit);
		cJSON_AddItemToObject(wrap, "request_range", req);
		break;
	case ETCD_OP_PUT:
		bad |= ej_add_b64(req, "value", op->value ? op->value : "", op->value ? op->value_len : 0);
		if (op->lease)
			bad |= ej_add_i64(req, "lease", op->lease);
		if (op->prev_kv)
			bad |= !cJSON_AddTrueToObject(req, "prev_kv");
		cJSON_AddItemToObject(wrap, "request_put", req);
		break;
	case ETCD_OP_DELETE:
		bad |= add_range_end(req, op->key, op->prefix, NULL);
		if (op->prev_kv)
			bad |= !cJSON_AddTrueToObject(req, "prev_kv");
		cJSON_AddItemToObject(wrap, "request_delete_range", req);
		break;
	default:
		goto bad;
	}
	if (bad) {
		cJSON_Delete(wrap);
		return NULL;
	}
	return wrap;
bad:
	cJSON_Delete(wrap);
	cJSON_Delete(req);
	return NULL;
}

cJSON *ej_txn_request(const etcd_cmp *cmps, size_t ncmp, const etcd_op *t, size_t nt,
		      const etcd_op *e, size_t ne)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *ca = cJSON_AddArrayToObject(req, "compare");
	cJSON *ta = cJSON_AddArrayToObject(req, "success");
	cJSON *ea = cJSON_AddArrayToObject(req, "failure");
	if (!req || !ca || !ta || !ea)
		goto bad;
	for (size_t i = 0; i < ncmp; i++) {
		const etcd_cmp *c = &cmps[i];
		if (c->target > ETCD_CMP_LEASE || c->result > ETCD_CMP_NOT_EQUAL || !c->key)
			goto bad;
		cJSON *cj = cJSON_CreateObject();
		if (!cj)
			goto bad;
		cJSON_AddItemToArray(ca, cj);
		int bad = ej_add_b64(cj, "key", c->key, strlen(c->key)) ||
			  !cJSON_AddStringToObject(cj, "target", cmp_target_name[c->target]) ||
			  !cJSON_AddStringToObject(cj, "result", cmp_result_name[c->result]);
		if (c->target == ETCD_CMP_VALUE)
			bad |= ej_add_b64(cj, "value", c->value ? c->value : "", c->value ? c->value_len : 0);
		else
			bad |= ej_add_i64(cj, cmp_field_name[c->target], c->num);
		if (bad)
			goto bad;
	}
	for (size_t i = 0; i < nt; i++) {
		cJSON *o = op_json(&t[i]);
		if (!o)
			goto bad;
		cJSON_AddItemToArray(ta, o);
	}
	for (size_t i = 0; i < ne; i++) {
		cJSON *o = op_json(&e[i]);
		if (!o)
			goto bad;
		cJSON_AddItemToArray(ea, o);
	}
	return req;
bad:
	cJSON_Delete(req);
	return NULL;
}

cJSON *ej_watch_request(const char *key, const etcd_watch_opts *o, int64_t start_revision)
{
	static const etcd_watch_opts none;
	if (!o)
		o = &none;
	cJSON *wrap = cJSON_CreateObject(), *req = cJSON_CreateObject();
	if (!wrap || !req) {
		cJSON_Delete(wrap);
		cJSON_Delete(req);
		return NULL;
	}
	cJSON_AddItemToObject(wrap, "create_request", req);
	const char *k = (o->prefix && !*key) ? "\0" : key;
	size_t klen = (o->prefix && !*key) ? 1 : strlen(key);
	int bad = ej_add_b64(req, "key", k, klen) || add_range_end(req, key, o->prefix, o->range_end);
	if (start_revision > 0)
		bad |= ej_add_i64(req, "start_revision", start_revision);
	if (o->prev_kv)
		bad |= !cJSON_AddTrueToObject(req, "prev_kv");
	if (o->progress_notify)
		bad |= !cJSON_AddTrueToObject(req, "progress_notify");
	if (o->filter_noput || o->filter_nodelete) {
		cJSON *f = cJSON_AddArrayToObject(req, "filters");
		if (!f)
			bad = 1;
		else {
			if (o->filter_noput)
				cJSON_AddItemToArray(f, cJSON_CreateString("NOPUT"));
			if (o->filter_nodelete)
				cJSON_AddItemToArray(f, cJSON_CreateString("NODELETE"));
		}
	}
	if (bad) {
		cJSON_Delete(wrap);
		return NULL;
	}
	return wrap;
}

int ej_grpc_error(const cJSON *body, int *code, const char **msg)
{
	if (!cJSON_IsObject(body))
		return 0;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *src = body;
	if (cJSON_IsObject(err)) {
		src = err;
	} else if (!cJSON_GetObjectItemCaseSensitive(body, "code") &&
		   (!cJSON_IsString(err) || !*err->valuestring)) {
		return 0;
	}
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(src, "grpc_code");
	if (!c)
		c = cJSON_GetObjectItemCaseSensitive(src, "code");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(src, "message");
	if (!cJSON_IsString(m) && cJSON_IsString(err))
		m = err;
	if (!cJSON_IsNumber(c) && !cJSON_IsString(m))
		return 0;
	*code = cJSON_IsNumber(c) ? c->valueint : 2;
	*msg = cJSON_IsString(m) ? m->valuestring : "(no message)";
	return 1;
}

sh_err ej_map_grpc(int code, const char *msg)
{
	if (strstr(msg, "compacted"))
		return SH_E_COMPACTED;
	if (strstr(msg, "lease not found"))
		return SH_E_LEASE_LOST;
	if (strstr(msg, "too large") || strstr(msg, "larger than max") || code == 8)
		return SH_E_TOO_LARGE;
	if (strstr(msg, "authentication failed") || strstr(msg, "permission denied") ||
	    strstr(msg, "invalid auth token") || strstr(msg, "user name is empty") ||
	    strstr(msg, "auth: revision in header is old"))
		return SH_E_AUTH;
	if (code == 14)
		return SH_E_UNAVAILABLE;
	if (code == 4)
		return SH_E_TIMEOUT;
	if (code == 5)
		return SH_E_NOT_FOUND;
	if (code == 7 || code == 16)
		return SH_E_AUTH;
	return SH_E_GRPC;
}

char *etcd_prefix_end(const char *prefix, size_t len, size_t *end_len)
{
	char *end = malloc(len + 1);
	if (!end)
		return NULL;
	memcpy(end, prefix, len);
	for (size_t i = len; i-- > 0;) {
		if ((unsigned char)end[i] < 0xff) {
			end[i]++;
			end[i + 1] = '\0';
			*end_len = i + 1;
			return end;
		}
	}
	/* empty prefix or all 0xff: every key from prefix on */
	end[0] = '\0';
	*end_len = 1;
	return end;
}

void etcd_kv_free(etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}

void etcd_range_result_free(etcd_range_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		etcd_kv_free(&r->kvs[i]);
	free(r->kvs);
	r->kvs = NULL;
	r->n = 0;
}

void etcd_delete_result_free(etcd_delete_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		etcd_kv_free(&r->prev_kvs[i]);
	free(r->prev_kvs);
	r->prev_kvs = NULL;
	r->n = 0;
}

void etcd_txn_result_free(etcd_txn_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		etcd_range_result_free(&r->responses[i].range);
	free(r->responses);
	r->responses = NULL;
	r->n = 0;
}

void etcd_watch_batch_free(etcd_watch_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		etcd_kv_free(&b->events[i].kv);
		etcd_kv_free(&b->events[i].prev_kv);
	}
	free(b->events);
	b->events = NULL;
	b->n = 0;
}
