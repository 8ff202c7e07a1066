/* SPDX-License-Identifier: MIT */
/* rec_election.c - election views: the leader (lowest create_revision) and standbys of each election */
#include "rec_election.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"

int rec_election_prefix(char *buf, size_t len, const char *prefix, const char *name)
{
	if (!name)
		return rec_key(buf, len, prefix, "/elections/", NULL);
	if (!*name || strchr(name, '/'))
		return -1;
	int n = snprintf(buf, len, "%s/elections/%s/", prefix ? prefix : "", name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

typedef struct cand {
	const etcd_kv *kv;
	const char *name; /* points into kv->key */
	size_t name_len;
} cand;

static int cand_cmp(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return x->kv->create_revision < y->kv->create_revision ? -1 : x->kv->create_revision > y->kv->create_revision;
}

static void copy_value(char *dst, size_t len, const etcd_kv *kv)
{
	size_t n = kv->value_len < len - 1 ? kv->value_len : len - 1;
	memcpy(dst, kv->value ? kv->value : "", n);
	dst[n] = '\0';
}

size_t rec_election_views(const char *prefix, const etcd_kv *kvs, size_t n, rec_election_view *out, size_t max)
{
	char base[300];
	if (rec_election_prefix(base, sizeof(base), prefix, NULL))
		return 0;
	size_t blen = strlen(base), k = 0, nv = 0;
	cand *c = calloc(n ? n : 1, sizeof(*c));
	if (!c)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const etcd_kv *kv = &kvs[i];
		if (kv->key_len <= blen || memcmp(kv->key, base, blen))
			continue;
		const char *name = kv->key + blen, *slash = memchr(name, '/', kv->key_len - blen);
		if (!slash || slash == name || slash + 1 == kv->key + kv->key_len)
			continue;
		c[k++] = (cand){kv, name, (size_t)(slash - name)};
	}
	qsort(c, k, sizeof(*c), cand_cmp);
	for (size_t i = 0; i < k;) {
		size_t j = i;
		while (j < k && c[j].name_len == c[i].name_len && !memcmp(c[j].name, c[i].name, c[i].name_len))
			j++;
		if (nv < max) {
			rec_election_view *v = &out[nv];
			memset(v, 0, sizeof(*v));
			snprintf(v->name, sizeof(v->name), "%.*s", (int)c[i].name_len, c[i].name);
			copy_value(v->leader, sizeof(v->leader), c[i].kv);
			snprintf(v->leader_key, sizeof(v->leader_key), "%.*s", (int)c[i].kv->key_len, c[i].kv->key);
			const char *hex = c[i].name + c[i].name_len + 1;
			char *end;
			unsigned long long lease = strtoull(hex, &end, 16);
			v->lease = end == c[i].kv->key + c[i].kv->key_len ? (int64_t)lease : c[i].kv->lease;
			v->fence = c[i].kv->create_revision;
			v->candidates = j - i;
			for (size_t s = i + 1; s < j && v->nstandbys < REC_ELECTION_MAX_STANDBYS; s++)
				copy_value(v->standbys[v->nstandbys++], sizeof(v->standbys[0]), c[s].kv);
		}
		nv++;
		i = j;
	}
	free(c);
	return nv;
}

char *rec_election_view_encode(const rec_election_view *v)
{
	cJSON *j = cJSON_CreateObject();
	char hex[24];
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)v->lease);
	cJSON_AddStringToObject(j, "name", v->name);
	if (v->candidates) {
		cJSON_AddStringToObject(j, "leader", v->leader);
		cJSON_AddStringToObject(j, "leader_key", v->leader_key);
		cJSON_AddStringToObject(j, "lease", hex);
		cJSON_AddNumberToObject(j, "fence", (double)v->fence);
	} else {
		cJSON_AddNullToObject(j, "leader");
	}
	cJSON_AddNumberToObject(j, "candidates", (double)v->candidates);
	cJSON *s = cJSON_AddArrayToObject(j, "standbys");
	for (size_t i = 0; i < v->nstandbys; i++)
		cJSON_AddItemToArray(s, cJSON_CreateString(v->standbys[i]));
	return rec_print(j);
}

sh_err rec_election_view_parse(const char *json, size_t len, rec_election_view *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	char hex[24] = "";
	int64_t cands = 0;
	int bad = rec_get_str(j, "name", 1, out->name, sizeof(out->name), why, wlen) ||
		  rec_get_str(j, "leader", 0, out->leader, sizeof(out->leader), why, wlen) ||
		  rec_get_str(j, "leader_key", 0, out->leader_key, sizeof(out->leader_key), why, wlen) ||
		  rec_get_str(j, "lease", 0, hex, sizeof(hex), why, wlen) ||
		  rec_get_int(j, "fence", 0, &out->fence, why, wlen) ||
		  rec_get_int(j, "candidates", 1, &cands, why, wlen);
	if (!bad && hex[0]) {
		char *end;
		out->lease = (int64_t)strtoull(hex, &end, 16);
		if (*end) {
			snprintf(why, wlen, "field 'lease' is not hexadecimal: '%s'", hex);
			bad = 1;
		}
	}
	if (!bad && cands < 0) {
		snprintf(why, wlen, "field 'candidates' is negative");
		bad = 1;
	}
	out->candidates = (size_t)(cands < 0 ? 0 : cands);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "standbys"), *it;
	if (!bad && s && !cJSON_IsArray(s)) {
		snprintf(why, wlen, "field 'standbys' is not an array");
		bad = 1;
	}
	const cJSON *arr = bad ? NULL : s;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it)) {
			snprintf(why, wlen, "field 'standbys' holds a non-string");
			bad = 1;
			break;
		}
		if (out->nstandbys < REC_ELECTION_MAX_STANDBYS)
			snprintf(out->standbys[out->nstandbys++], sizeof(out->standbys[0]), "%s", it->valuestring);
	}
	cJSON_Delete(j);
	return bad ? SH_E_MALFORMED : SH_OK;
}
