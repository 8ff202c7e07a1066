/* SPDX-License-Identifier: MIT */
/* etcd_pb.c - etcd's protobuf messages to and from etcd.h's structs, and the calls over gRPC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define PBM(m) ((ProtobufCMessage *)(m))

static int dup_bytes(ProtobufCBinaryData d, char **out, size_t *len)
{
	*out = malloc(d.len + 1);
	if (!*out)
		return -1;
	if (d.len)
		memcpy(*out, d.data, d.len);
	(*out)[d.len] = '\0';
	*len = d.len;
	return 0;
}

static ProtobufCBinaryData bin(const void *p, size_t n)
{
	ProtobufCBinaryData d = {n, (uint8_t *)(uintptr_t)p};
	return d;
}

int ep_decode_kv(const Mvccpb__KeyValue *p, etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (!p)
		return -1;
	if (dup_bytes(p->key, &kv->key, &kv->key_len) || dup_bytes(p->value, &kv->value, &kv->value_len)) {
		etcd_kv_free(kv);
		return -1;
	}
	kv->create_revision = p->create_revision;
	kv->mod_revision = p->mod_revision;
	kv->version = p->version;
	kv->lease = p->lease;
	return 0;
}

static int decode_kvs(Mvccpb__KeyValue **arr, size_t cnt, etcd_kv **kvs, size_t *n)
{
	*kvs = NULL;
	*n = 0;
	if (!cnt)
		return 0;
	*kvs = calloc(cnt, sizeof(etcd_kv));
	if (!*kvs)
		return -1;
	for (size_t i = 0; i < cnt; i++) {
		if (ep_decode_kv(arr[i], &(*kvs)[i])) {
			for (size_t j = 0; j < i; j++)
				etcd_kv_free(&(*kvs)[j]);
			free(*kvs);
			*kvs = NULL;
			return -1;
		}
	}
	*n = cnt;
	return 0;
}

static int64_t hdr_rev(const Etcdserverpb__ResponseHeader *h)
{
	return h ? h->revision : 0;
}

int ep_decode_range(const Etcdserverpb__RangeResponse *p, etcd_range_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!p)
		return -1;
	r->revision = hdr_rev(p->header);
	r->count = p->count;
	r->more = p->more;
	return decode_kvs(p->kvs, p->n_kvs, &r->kvs, &r->n);
}

int ep_decode_txn(const Etcdserverpb__TxnResponse *p, etcd_txn_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!p)
		return -1;
	r->revision = hdr_rev(p->header);
	r->succeeded = p->succeeded;
	if (!p->n_responses)
		return 0;
	r->responses = calloc(p->n_responses, sizeof(etcd_op_result));
	if (!r->responses)
		return -1;
	for (size_t i = 0; i < p->n_responses; i++) {
		const Etcdserverpb__ResponseOp *op = p->responses[i];
		etcd_op_result *o = &r->responses[i];
		int bad = 0;
		switch (op->response_case) {
		case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE:
			o->kind = ETCD_OP_RANGE;
			bad = ep_decode_range(op->response_range, &o->range);
			break;
		case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT:
			o->kind = ETCD_OP_PUT;
			if (op->response_put && op->response_put->prev_kv)
				bad = decode_kvs(&op->response_put->prev_kv, 1, &o->range.kvs, &o->range.n);
			break;
		case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
			o->kind = ETCD_OP_DELETE;
			if (op->response_delete_range) {
				o->deleted = op->response_delete_range->deleted;
				bad = decode_kvs(op->response_delete_range->prev_kvs,
						 op->response_delete_range->n_prev_kvs, &o->range.kvs, &o->range.n);
			}
			break;
		default:
			bad = 1;
		}
		if (bad) {
			etcd_txn_result_free(r);
			return -1;
		}
		r->n = i + 1;
	}
	return 0;
}

int ep_decode_watch(const Etcdserverpb__WatchResponse *p, etcd_watch_batch *b, int *created, int *canceled)
{
	memset(b, 0, sizeof(*b));
	*created = p->created;
	*canceled = p->canceled;
	b->revision = hdr_rev(p->header);
	b->compact_revision = p->compact_revision;
	if (!p->n_events)
		return 0;
	b->events = calloc(p->n_events, sizeof(etcd_event));
	if (!b->events)
		return -1;
	for (size_t i = 0; i < p->n_events; i++) {
		const Mvccpb__Event *ev = p->events[i];
		etcd_event *e = &b->events[i];
		if (ev->type == MVCCPB__EVENT__EVENT_TYPE__PUT)
			e->type = ETCD_EV_PUT;
		else if (ev->type == MVCCPB__EVENT__EVENT_TYPE__DELETE)
			e->type = ETCD_EV_DELETE;
		else
			goto bad;
		if (ep_decode_kv(ev->kv, &e->kv))
			goto bad;
		if (ev->prev_kv) {
			if (ep_decode_kv(ev->prev_kv, &e->prev_kv)) {
				etcd_kv_free(&e->kv);
				goto bad;
			}
			e->has_prev = 1;
		}
		b->n = i + 1;
	}
	return 0;
bad:
	etcd_watch_batch_free(b);
	return -1;
}

/* key and range_end of a range-shaped request; *owned holds a computed prefix end to free. */
static int key_range(const char *key, int prefix, const char *range_end, ProtobufCBinaryData *k,
		     ProtobufCBinaryData *end, char **owned)
{
	*owned = NULL;
	*k = (prefix && !*key) ? bin("\0", 1) : bin(key, strlen(key));
	*end = bin(NULL, 0);
	if (range_end) {
		*end = bin(range_end, strlen(range_end));
	} else if (prefix) {
		size_t elen;
		*owned = etcd_prefix_end(key, strlen(key), &elen);
		if (!*owned)
			return -1;
		*end = bin(*owned, elen);
	}
	return 0;
}

int ep_watch_request(const char *key, const etcd_watch_opts *o, int64_t start_revision, uint8_t **out,
		     size_t *len)
{
	static const etcd_watch_opts none;
	if (!o)
		o = &none;
	Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	Etcdserverpb__WatchRequest wr = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest__FilterType filters[2];
	char *owned;
	if (key_range(key, o->prefix, o->range_end, &cr.key, &cr.range_end, &owned))
		return -1;
	cr.start_revision = start_revision > 0 ? start_revision : 0;
	cr.prev_kv = o->prev_kv != 0;
	cr.progress_notify = o->progress_notify != 0;
	if (o->filter_noput)
		filters[cr.n_filters++] = ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT;
	if (o->filter_nodelete)
		filters[cr.n_filters++] = ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE;
	cr.filters = filters;
	wr.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	wr.create_request = &cr;
	int r = eg_frame(PBM(&wr), out, len);
	free(owned);
	return r;
}

#define CALL(c, method, name, req, rtype, resp)                                                                \
	eg_call((c), (method), (name), PBM(req), &etcdserverpb__##rtype##__descriptor, (ProtobufCMessage **)(resp))

sh_err ep_authenticate(etcd_client *c)
{
	Etcdserverpb__AuthenticateRequest req = ETCDSERVERPB__AUTHENTICATE_REQUEST__INIT;
	Etcdserverpb__AuthenticateResponse *resp;
	req.name = c->user;
	req.password = c->password;
	free(c->token);
	c->token = NULL;
	sh_err e = CALL(c, "/etcdserverpb.Auth/Authenticate", "/v3/auth/authenticate", &req, authenticate_response,
			&resp);
	if (e) {
		if (e == SH_E_AUTH || e == SH_E_GRPC) {
			char prev[sizeof(c->errbuf)];
			snprintf(prev, sizeof(prev), "%s", c->errbuf);
			const char *p = strstr(prev, "refused /v3/auth/authenticate: ");
			etcd_setf(c, "etcd authentication as '%s' failed: %s", c->user, p ? p + 32 : prev);
			return SH_E_AUTH;
		}
		return e;
	}
	if (!resp->token || !*resp->token) {
		protobuf_c_message_free_unpacked(PBM(resp), NULL);
		return etcd_malformed(c, "authenticate");
	}
	c->token = strdup(resp->token);
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	if (!c->token)
		return SH_E_NOMEM;
	c->auths++;
	return SH_OK;
}

static void fill_range(Etcdserverpb__RangeRequest *req, const etcd_range_opts *o)
{
	req->limit = o->limit;
	req->revision = o->revision;
	if (o->sort_order && o->sort_order <= ETCD_SORT_DESCEND) {
		req->sort_order = (Etcdserverpb__RangeRequest__SortOrder)o->sort_order;
		req->sort_target = (Etcdserverpb__RangeRequest__SortTarget)(o->sort_target <= ETCD_SORT_VALUE
										     ? o->sort_target
										     : 0);
	}
	req->keys_only = o->keys_only != 0;
	req->count_only = o->count_only != 0;
	req->serializable = o->serializable != 0;
	req->min_create_revision = o->min_create_revision;
	req->max_create_revision = o->max_create_revision;
	req->min_mod_revision = o->min_mod_revision;
	req->max_mod_revision = o->max_mod_revision;
}

sh_err ep_range(etcd_client *c, const char *key, const etcd_range_opts *opts, etcd_range_result *out)
{
	static const etcd_range_opts none;
	if (!opts)
		opts = &none;
	memset(out, 0, sizeof(*out));
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeResponse *resp;
	char *owned;
	if (key_range(key, opts->prefix, opts->range_end, &req.key, &req.range_end, &owned))
		return etcd_nomem(c, "range");
	fill_range(&req, opts);
	sh_err e = CALL(c, "/etcdserverpb.KV/Range", "/v3/kv/range", &req, range_response, &resp);
	free(owned);
	if (e)
		return e;
	int bad = ep_decode_range(resp, out);
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	return bad ? etcd_malformed(c, "range") : SH_OK;
}

sh_err ep_put(etcd_client *c, const char *key, const void *value, size_t value_len, const etcd_put_opts *opts,
	      int64_t *revision, etcd_kv *prev)
{
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutResponse *resp;
	req.key = bin(key, strlen(key));
	req.value = bin(value ? value : "", value ? value_len : 0);
	req.lease = opts ? opts->lease : 0;
	req.prev_kv = prev || (opts && opts->prev_kv);
	sh_err e = CALL(c, "/etcdserverpb.KV/Put", "/v3/kv/put", &req, put_response, &resp);
	if (e)
		return e;
	int bad = prev && resp->prev_kv && ep_decode_kv(resp->prev_kv, prev);
	if (revision)
		*revision = hdr_rev(resp->header);
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	return bad ? etcd_malformed(c, "put") : SH_OK;
}

sh_err ep_delete(etcd_client *c, const char *key, const etcd_delete_opts *opts, etcd_delete_result *out)
{
	Etcdserverpb__DeleteRangeRequest req = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__DeleteRangeResponse *resp;
	char *owned;
	if (key_range(key, opts && opts->prefix, opts ? opts->range_end : NULL, &req.key, &req.range_end, &owned))
		return etcd_nomem(c, "delete");
	req.prev_kv = opts && opts->prev_kv;
	sh_err e = CALL(c, "/etcdserverpb.KV/DeleteRange", "/v3/kv/deleterange", &req, delete_range_response,
			&resp);
	free(owned);
	if (e)
		return e;
	out->deleted = resp->deleted;
	out->revision = hdr_rev(resp->header);
	int bad = decode_kvs(resp->prev_kvs, resp->n_prev_kvs, &out->prev_kvs, &out->n);
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	return bad ? etcd_malformed(c, "deleterange") : SH_OK;
}

/* One txn operation; its sub-request lives in *sub (caller's storage). */
static int op_pb(const etcd_op *op, Etcdserverpb__RequestOp *ro, void *sub, char **owned)
{
	*owned = NULL;
	switch (op->kind) {
	case ETCD_OP_RANGE: {
		Etcdserverpb__RangeRequest *r = sub;
		etcdserverpb__range_request__init(r);
		if (key_range(op->key, op->prefix, NULL, &r->key, &r->range_end, owned))
			return -1;
		r->limit = op->limit;
		ro->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
		ro->request_range = r;
		return 0;
	}
	case ETCD_OP_PUT: {
		Etcdserverpb__PutRequest *p = sub;
		etcdserverpb__put_request__init(p);
		p->key = bin(op->key, strlen(op->key));
		p->value = bin(op->value ? op->value : "", op->value ? op->value_len : 0);
		p->lease = op->lease;
		p->prev_kv = op->prev_kv != 0;
		ro->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
		ro->request_put = p;
		return 0;
	}
	case ETCD_OP_DELETE: {
		Etcdserverpb__DeleteRangeRequest *d = sub;
		etcdserverpb__delete_range_request__init(d);
		if (key_range(op->key, op->prefix, NULL, &d->key, &d->range_end, owned))
			return -1;
		d->prev_kv = op->prev_kv != 0;
		ro->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
		ro->request_delete_range = d;
		return 0;
	}
	}
	return -1;
}

union op_sub {
	Etcdserverpb__RangeRequest r;
	Etcdserverpb__PutRequest p;
	Etcdserverpb__DeleteRangeRequest d;
};

sh_err ep_txn(etcd_client *c, const etcd_cmp *cmps, size_t ncmp, const etcd_op *t, size_t nt, const etcd_op *e,
	      size_t ne, etcd_txn_result *out)
{
	size_t nops = nt + ne;
	Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare *cv = calloc(ncmp + 1, sizeof(*cv));
	Etcdserverpb__Compare **cp = calloc(ncmp + 1, sizeof(*cp));
	Etcdserverpb__RequestOp *ov = calloc(nops + 1, sizeof(*ov));
	Etcdserverpb__RequestOp **op = calloc(nops + 1, sizeof(*op));
	union op_sub *subs = calloc(nops + 1, sizeof(*subs));
	char **owned = calloc(nops + 1, sizeof(*owned));
	sh_err err = SH_OK;
	if (!cv || !cp || !ov || !op || !subs || !owned) {
		err = etcd_nomem(c, "txn");
		goto done;
	}
	for (size_t i = 0; i < ncmp; i++) {
		const etcd_cmp *k = &cmps[i];
		if (k->target > ETCD_CMP_LEASE || k->result > ETCD_CMP_NOT_EQUAL || !k->key) {
			etcd_setf(c, "invalid or unencodable txn request");
			err = SH_E_INVAL;
			goto done;
		}
		etcdserverpb__compare__init(&cv[i]);
		cv[i].key = bin(k->key, strlen(k->key));
		cv[i].target = (Etcdserverpb__Compare__CompareTarget)k->target;
		cv[i].result = (Etcdserverpb__Compare__CompareResult)k->result;
		switch (k->target) {
		case ETCD_CMP_VERSION:
			cv[i].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
			cv[i].version = k->num;
			break;
		case ETCD_CMP_CREATE:
			cv[i].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
			cv[i].create_revision = k->num;
			break;
		case ETCD_CMP_MOD:
			cv[i].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
			cv[i].mod_revision = k->num;
			break;
		case ETCD_CMP_VALUE:
			cv[i].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
			cv[i].value = bin(k->value ? k->value : "", k->value ? k->value_len : 0);
			break;
		case ETCD_CMP_LEASE:
			cv[i].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE;
			cv[i].lease = k->num;
			break;
		}
		cp[i] = &cv[i];
	}
	for (size_t i = 0; i < nops; i++) {
		etcdserverpb__request_op__init(&ov[i]);
		if (op_pb(i < nt ? &t[i] : &e[i - nt], &ov[i], &subs[i], &owned[i])) {
			etcd_setf(c, "invalid or unencodable txn request");
			err = SH_E_INVAL;
			goto done;
		}
		op[i] = &ov[i];
	}
	req.n_compare = ncmp;
	req.compare = cp;
	req.n_success = nt;
	req.success = op;
	req.n_failure = ne;
	req.failure = op + nt;
	Etcdserverpb__TxnResponse *resp;
	err = CALL(c, "/etcdserverpb.KV/Txn", "/v3/kv/txn", &req, txn_response, &resp);
	if (err)
		goto done;
	int bad = ep_decode_txn(resp, out);
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	if (bad)
		err = etcd_malformed(c, "txn");
done:
	for (size_t i = 0; owned && i < nops; i++)
		free(owned[i]);
	free(owned);
	free(subs);
	free(op);
	free(ov);
	free(cp);
	free(cv);
	return err;
}

sh_err ep_lease_grant(etcd_client *c, int64_t ttl_s, int64_t *id, int64_t *granted_ttl)
{
	Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseGrantResponse *resp;
	req.ttl = ttl_s;
	sh_err e = CALL(c, "/etcdserverpb.Lease/LeaseGrant", "/v3/lease/grant", &req, lease_grant_response, &resp);
	if (e)
		return e;
	if (resp->error && *resp->error) {
		etcd_setf(c, "etcd refused lease grant: %s", resp->error);
		protobuf_c_message_free_unpacked(PBM(resp), NULL);
		return SH_E_GRPC;
	}
	int64_t lid = resp->id, ttl = resp->ttl;
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	if (!lid)
		return etcd_malformed(c, "lease grant");
	*id = lid;
	if (granted_ttl)
		*granted_ttl = ttl;
	return SH_OK;
}

/*
 * Keepalive on this client's LeaseKeepAlive stream: one request, its answer,
 * within the client's timeout. The stream stays open between keepalives and is
 * dropped on any failure; the next keepalive opens a new one on the current
 * endpoint (the session moves that on after a failure).
 */
sh_err ep_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl)
{
	Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
	req.id = id;
	uint8_t *frame;
	size_t flen;
	if (eg_frame(PBM(&req), &frame, &flen))
		return etcd_nomem(c, "lease keepalive");
	if (c->user && !c->token) {
		sh_err e = etcd_authenticate(c);
		if (e) {
			free(frame);
			return e;
		}
	}
	int64_t deadline = sh_mono_ns() + (int64_t)c->timeout_ms * SH_NS_PER_MS;
	sh_err e = SH_OK;
	for (size_t tries = 0; tries < c->neps; tries++) {
		struct eg_stream *s = c->ka;
		if (s)
			eg_stream_pump(s, 0, -1, NULL); /* notice a stream that ended since the last keepalive */
		if (s && (!s->active || s->ep != c->cur)) {
			eg_stream_close(s);
			free(s);
			s = c->ka = NULL;
		}
		int fresh = !s;
		if (!s) {
			s = c->ka = malloc(sizeof(*s));
			if (!s || eg_stream_open(c, s, c->cur, "/etcdserverpb.Lease/LeaseKeepAlive", 0, NULL, 0, 0)) {
				free(s);
				c->ka = NULL;
				free(frame);
				return etcd_nomem(c, "lease keepalive");
			}
			c->connects++;
		}
		if (eg_stream_send(s, frame, flen)) {
			e = etcd_nomem(c, "lease keepalive");
			break;
		}
		for (;;) {
			ProtobufCMessage *m = NULL;
			const char *why = NULL;
			int r = eg_stream_next(s, &m, &etcdserverpb__lease_keep_alive_response__descriptor, &why);
			if (r > 0) {
				Etcdserverpb__LeaseKeepAliveResponse *kr = (Etcdserverpb__LeaseKeepAliveResponse *)m;
				int64_t t = kr->ttl, rid = kr->id;
				protobuf_c_message_free_unpacked(m, NULL);
				if (rid != id && rid != 0)
					continue; /* an answer to an earlier keepalive that timed out */
				free(frame);
				if (t <= 0) {
					etcd_setf(c, "lease %llx expired or was revoked", (unsigned long long)id);
					return SH_E_LEASE_LOST;
				}
				if (ttl)
					*ttl = t;
				return SH_OK;
			}
			if (r < 0) {
				etcd_setf(c, "malformed answer from etcd at '%s' for /v3/lease/keepalive: %s",
					  c->eps[s->ep].url, why);
				e = SH_E_PROTO;
				break;
			}
			if (s->done || (s->st.have && s->st.code != 0)) {
				char why2[400];
				e = eg_stream_why(c, s, "lease keepalive", why2, sizeof(why2));
				if (s->st.have && s->st.code) {
					etcd_setf(c, "etcd at '%s' refused /v3/lease/keepalive: %s (grpc code %d)",
						  c->eps[s->ep].url, s->st.msg, s->st.code);
					if (e == SH_E_GRPC)
						e = SH_E_UNAVAILABLE;
				} else {
					etcd_setf(c, "%s", why2);
				}
				break;
			}
			int64_t now = sh_mono_ns();
			if (now >= deadline) {
				etcd_setf(c, "etcd at '%s' did not answer within %ld ms", c->eps[s->ep].url,
					  c->timeout_ms);
				e = SH_E_TIMEOUT;
				break;
			}
			long wait = (long)((deadline - now + SH_NS_PER_MS - 1) / SH_NS_PER_MS);
			eg_stream_pump(s, wait, -1, NULL);
		}
		eg_stream_close(c->ka);
		free(c->ka);
		c->ka = NULL;
		/* a stream refused before any answer: the next endpoint, as a unary call would */
		if (!(fresh && e == SH_E_UNREACHABLE) || sh_mono_ns() >= deadline)
			break;
		c->cur = (c->cur + 1) % c->neps;
	}
	if (e == SH_E_UNREACHABLE && c->neps > 1 && strstr(c->errbuf, "cannot reach")) {
		size_t l = strlen(c->errbuf);
		snprintf(c->errbuf + l, sizeof(c->errbuf) - l, " (all %zu endpoints failed)", c->neps);
	}
	free(frame);
	return e;
}

sh_err ep_lease_revoke(etcd_client *c, int64_t id)
{
	Etcdserverpb__LeaseRevokeRequest req = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
	Etcdserverpb__LeaseRevokeResponse *resp;
	req.id = id;
	sh_err e = CALL(c, "/etcdserverpb.Lease/LeaseRevoke", "/v3/lease/revoke", &req, lease_revoke_response,
			&resp);
	if (e)
		return e;
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	return SH_OK;
}

sh_err ep_lease_ttl(etcd_client *c, int64_t id, int64_t *ttl, int64_t *granted_ttl, etcd_range_result *keys)
{
	if (keys)
		memset(keys, 0, sizeof(*keys));
	Etcdserverpb__LeaseTimeToLiveRequest req = ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
	Etcdserverpb__LeaseTimeToLiveResponse *resp;
	req.id = id;
	req.keys = keys != NULL;
	sh_err e = CALL(c, "/etcdserverpb.Lease/LeaseTimeToLive", "/v3/lease/timetolive", &req,
			lease_time_to_live_response, &resp);
	if (e)
		return e;
	int bad = 0;
	if (keys && resp->n_keys) {
		keys->kvs = calloc(resp->n_keys, sizeof(etcd_kv));
		for (size_t i = 0; !bad && i < resp->n_keys; i++) {
			if (!keys->kvs) {
				bad = 1;
				break;
			}
			etcd_kv *kv = &keys->kvs[keys->n];
			bad = dup_bytes(resp->keys[i], &kv->key, &kv->key_len);
			kv->value = calloc(1, 1);
			keys->n++;
			bad |= !kv->value;
		}
	}
	/* the gateway leaves a zero TTL out, and an absent TTL reads as expired: the same here */
	int64_t t = resp->ttl ? resp->ttl : -1, g = resp->grantedttl;
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
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

sh_err ep_status_get(etcd_client *c, etcd_status *st)
{
	memset(st, 0, sizeof(*st));
	Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
	Etcdserverpb__StatusResponse *resp;
	sh_err e = CALL(c, "/etcdserverpb.Maintenance/Status", "/v3/maintenance/status", &req, status_response,
			&resp);
	if (e)
		return e;
	int bad = !resp->header || !resp->version;
	if (!bad) {
		snprintf(st->version, sizeof(st->version), "%s", resp->version);
		st->db_size = resp->dbsize;
		st->leader = resp->leader;
		st->raft_index = (int64_t)resp->raftindex;
		st->raft_term = (int64_t)resp->raftterm;
		st->revision = resp->header->revision;
		st->member_id = resp->header->member_id;
	}
	protobuf_c_message_free_unpacked(PBM(resp), NULL);
	return bad ? etcd_malformed(c, "status") : SH_OK;
}
