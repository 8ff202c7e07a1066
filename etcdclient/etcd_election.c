/* SPDX-License-Identifier: MIT */
/* etcd_election.c - fenced leader election over a session, interoperable with etcdctl elect */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_concurrency.h"
#include "etcd_internal.h"

etcd_election_view etcd_election_decide(const etcd_kv *kvs, size_t n, const char *my_key, int64_t my_rev)
{
	etcd_election_view v = {0, 0, -1, -1};
	int64_t lowest = 0, best_before = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t r = kvs[i].create_revision;
		if (v.leader_index < 0 || r < lowest) {
			lowest = r;
			v.leader_index = (long)i;
		}
		if (my_key && !strcmp(kvs[i].key, my_key) && r == my_rev)
			v.mine_present = 1;
		if (r < my_rev && (v.predecessor < 0 || r > best_before)) {
			best_before = r;
			v.predecessor = (long)i;
		}
	}
	v.leader = v.mine_present && v.predecessor < 0 && v.leader_index >= 0 &&
		   kvs[v.leader_index].create_revision == my_rev;
	return v;
}

static void eset(etcd_election *e, const char *fmt, const char *a, const char *b)
{
	snprintf(e->errbuf, sizeof(e->errbuf), fmt, a, b);
}

sh_err etcd_election_init(etcd_election *e, etcd_client *c, etcd_session *s, const char *prefix, const char *name)
{
	memset(e, 0, sizeof(*e));
	e->c = c;
	e->s = s;
	size_t plen = strlen(prefix) + strlen(name) + 2;
	e->prefix = malloc(plen);
	e->key = malloc(plen + 17);
	if (!e->prefix || !e->key) {
		etcd_election_release(e);
		return SH_E_NOMEM;
	}
	snprintf(e->prefix, plen, "%s%s/", prefix, name);
	snprintf(e->key, plen + 17, "%s%llx", e->prefix, (unsigned long long)etcd_session_lease(s));
	return SH_OK;
}

void etcd_election_release(etcd_election *e)
{
	free(e->prefix);
	free(e->key);
	e->prefix = e->key = NULL;
}

/* Put our key if absent (bound to the lease); learn its create_revision. The
 * same txn reads every candidate under the prefix (into *cands), so the first
 * look at the field costs no extra round trip and sees our own write. */
static sh_err put_candidate(etcd_election *e, const char *value, etcd_range_result *cands)
{
	memset(cands, 0, sizeof(*cands));
	size_t vlen = strlen(value);
	etcd_cmp absent = {.key = e->key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQUAL, .num = 0};
	etcd_op then_ops[2] = {
		{.kind = ETCD_OP_PUT, .key = e->key, .value = value, .value_len = vlen, .lease = etcd_session_lease(e->s)},
		{.kind = ETCD_OP_RANGE, .key = e->prefix, .prefix = 1},
	};
	etcd_op else_ops[2] = {
		{.kind = ETCD_OP_RANGE, .key = e->key},
		{.kind = ETCD_OP_RANGE, .key = e->prefix, .prefix = 1},
	};
	etcd_txn_result r;
	sh_err err = etcd_txn(e->c, &absent, 1, then_ops, 2, else_ops, 2, &r);
	if (err) {
		eset(e, "%s%s", etcd_errmsg(e->c), "");
		return err;
	}
	if (r.n != 2 || r.responses[1].kind != ETCD_OP_RANGE) {
		etcd_txn_result_free(&r);
		eset(e, "unexpected txn answer creating '%s'%s", e->key, "");
		return SH_E_PROTO;
	}
	if (r.succeeded) {
		e->rev = r.revision;
	} else if (r.responses[0].range.n == 1) {
		/* our lease already has a key here (resumed): keep its place, update the value */
		e->rev = r.responses[0].range.kvs[0].create_revision;
		if (strcmp(r.responses[0].range.kvs[0].value, value)) {
			etcd_cmp mine = {.key = e->key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQUAL, .num = e->rev};
			err = etcd_txn(e->c, &mine, 1, then_ops, 1, NULL, 0, NULL);
			if (err) {
				etcd_txn_result_free(&r);
				eset(e, "%s%s", etcd_errmsg(e->c), "");
				return err;
			}
		}
	} else {
		etcd_txn_result_free(&r);
		eset(e, "unexpected txn answer creating '%s'%s", e->key, "");
		return SH_E_PROTO;
	}
	*cands = r.responses[1].range;
	cands->revision = r.revision;
	r.responses[1].range = (etcd_range_result){0};
	etcd_txn_result_free(&r);
	return SH_OK;
}

static int64_t remaining_ms(int64_t deadline)
{
	if (!deadline)
		return 1000;
	int64_t r = (deadline - sh_mono_ns()) / SH_NS_PER_MS;
	return r < 0 ? 0 : r;
}

/* Wait until key (the predecessor) is deleted, the session is lost, the
 * deadline passes or stop is set. from_rev: revision of the read that saw it.
 * *del_rev: the revision of the deletion seen (0 when the watch could not
 * replay the key's history, i.e. compacted). */
static sh_err wait_deleted(etcd_election *e, const char *key, int64_t from_rev, int64_t deadline,
			   volatile sig_atomic_t *stop, int64_t *del_rev)
{
	*del_rev = 0;
	etcd_watch *w;
	etcd_watch_opts o = {.start_revision = from_rev + 1, .filter_noput = 1};
	sh_err err = etcd_watch_open(e->c, key, &o, &w);
	if (err) {
		eset(e, "%s%s", etcd_errmsg(e->c), "");
		return err;
	}
	for (;;) {
		if (stop && *stop) {
			err = SH_E_CANCELED;
			break;
		}
		if (!etcd_session_alive(e->s)) {
			err = SH_E_LEASE_LOST;
			break;
		}
		if (deadline && sh_mono_ns() >= deadline) {
			err = SH_E_TIMEOUT;
			break;
		}
		int64_t wait = remaining_ms(deadline);
		etcd_watch_batch b;
		err = etcd_watch_next(w, &b, wait > 100 ? 100 : (long)wait);
		if (err == SH_OK) {
			int gone = 0;
			for (size_t i = 0; i < b.n; i++) {
				if (b.events[i].type == ETCD_EV_DELETE) {
					gone = 1;
					/* etcd sets a delete event's mod_revision to the deletion's revision */
					*del_rev = b.events[i].kv.mod_revision > 0 ? b.events[i].kv.mod_revision
										    : b.revision;
				}
			}
			etcd_watch_batch_free(&b);
			if (gone)
				break;
		} else if (err == SH_E_COMPACTED) {
			err = SH_OK; /* re-check from a fresh read */
			break;
		}
		/* timeouts and reconnects: keep waiting */
	}
	etcd_watch_close(w);
	return err;
}

sh_err etcd_election_campaign(etcd_election *e, const char *value, long timeout_ms, volatile sig_atomic_t *stop)
{
	int64_t deadline = timeout_ms > 0 ? sh_mono_ns() + (int64_t)timeout_ms * SH_NS_PER_MS : 0;
	e->leader = 0;
	e->rev = 0;
	int64_t waited_rev = 0; /* revision of the deletion the last wait saw; 0 none */
	for (;;) {
		if (stop && *stop)
			return SH_E_CANCELED;
		if (!etcd_session_alive(e->s)) {
			eset(e, "session lost while campaigning on '%s'%s", e->prefix, "");
			return SH_E_LEASE_LOST;
		}
		if (deadline && sh_mono_ns() >= deadline) {
			eset(e, "timed out campaigning on '%s'%s", e->prefix, "");
			return SH_E_TIMEOUT;
		}
		sh_err err;
		etcd_range_result r;
		if (!e->rev) {
			if ((err = put_candidate(e, value, &r)))
				return err;
		} else {
			/*
			 * After a wait, a serializable read (no round of etcd's read index, ~0.6 ms
			 * of a handover here) is enough when its answer already reflects the
			 * deletion waited for: every candidate below ours at that revision, and
			 * ours, are as a read of now would have found them at that revision. The
			 * member the watch came from applied the deletion before telling us, so
			 * it normally does; an answer from before it (another member, behind) is
			 * read again, linearizably.
			 */
			etcd_range_opts o = {.prefix = 1, .serializable = waited_rev > 0};
			err = etcd_range(e->c, e->prefix, &o, &r);
			if (err == SH_OK && o.serializable && r.revision < waited_rev) {
				etcd_range_result_free(&r);
				o.serializable = 0;
				err = etcd_range(e->c, e->prefix, &o, &r);
			}
			if (err) {
				eset(e, "%s%s", etcd_errmsg(e->c), "");
				return err;
			}
		}
		etcd_election_view v = etcd_election_decide(r.kvs, r.n, e->key, e->rev);
		if (!v.mine_present) {
			/* our key vanished while we waited (deleted, or lease gone): start over */
			etcd_range_result_free(&r);
			e->rev = 0;
			continue;
		}
		if (v.leader) {
			etcd_range_result_free(&r);
			/* no phantom leaders (etcd-io/etcd#19597): this read, made after any wait and
			 * at a revision no older than the deletion waited for, saw our key with our
			 * create_revision; the session must still hold too */
			if (!etcd_session_alive(e->s)) {
				eset(e, "session lost while campaigning on '%s'%s", e->prefix, "");
				return SH_E_LEASE_LOST;
			}
			e->leader = 1;
			return SH_OK;
		}
		char *pred = strdup(r.kvs[v.predecessor].key);
		int64_t seen = r.revision;
		etcd_range_result_free(&r);
		if (!pred)
			return SH_E_NOMEM;
		err = wait_deleted(e, pred, seen, deadline, stop, &waited_rev);
		free(pred);
		if (err == SH_E_TIMEOUT)
			eset(e, "timed out campaigning on '%s'%s", e->prefix, "");
		else if (err == SH_E_LEASE_LOST)
			eset(e, "session lost while campaigning on '%s'%s", e->prefix, "");
		if (err)
			return err;
	}
}

sh_err etcd_election_check(etcd_election *e, int64_t *revision)
{
	if (!etcd_session_alive(e->s)) {
		e->leader = 0;
		eset(e, "session of '%s' is lost%s", e->key, "");
		return SH_E_NOT_LEADER;
	}
	etcd_kv kv;
	sh_err err = etcd_get(e->c, e->key, &kv, revision);
	if (err == SH_E_NOT_FOUND) {
		e->leader = 0;
		eset(e, "election key '%s' is gone%s", e->key, "");
		return SH_E_NOT_LEADER;
	}
	if (err) {
		eset(e, "%s%s", etcd_errmsg(e->c), "");
		return err;
	}
	int ok = kv.create_revision == e->rev;
	etcd_kv_free(&kv);
	if (!ok) {
		e->leader = 0;
		eset(e, "election key '%s' was re-created by someone else%s", e->key, "");
		return SH_E_NOT_LEADER;
	}
	return SH_OK;
}

sh_err etcd_election_resign(etcd_election *e)
{
	e->leader = 0;
	if (!e->rev)
		return SH_OK;
	etcd_cmp mine = {.key = e->key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQUAL, .num = e->rev};
	etcd_op del = {.kind = ETCD_OP_DELETE, .key = e->key};
	sh_err err = etcd_txn(e->c, &mine, 1, &del, 1, NULL, 0, NULL);
	if (err)
		eset(e, "%s%s", etcd_errmsg(e->c), "");
	else
		e->rev = 0;
	return err;
}

sh_err etcd_election_guarded_txn(etcd_election *e, const etcd_cmp *extra, size_t nextra, const etcd_op *then_ops,
				 size_t nthen, etcd_txn_result *out)
{
	if (!e->rev || !etcd_session_alive(e->s)) {
		e->leader = 0;
		eset(e, "not leader of '%s': %s", e->prefix, e->rev ? "session lost" : "no key");
		return SH_E_NOT_LEADER;
	}
	etcd_cmp *cmps = calloc(nextra + 1, sizeof(*cmps));
	if (!cmps)
		return SH_E_NOMEM;
	cmps[0] = (etcd_cmp){.key = e->key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQUAL, .num = e->rev};
	if (nextra)
		memcpy(cmps + 1, extra, nextra * sizeof(*cmps));
	/* on failure read our key back to tell "not leader" from "an extra compare failed" */
	etcd_op get = {.kind = ETCD_OP_RANGE, .key = e->key};
	etcd_txn_result r;
	sh_err err = etcd_txn(e->c, cmps, nextra + 1, then_ops, nthen, &get, 1, &r);
	free(cmps);
	if (err) {
		eset(e, "%s%s", etcd_errmsg(e->c), "");
		return err;
	}
	if (!r.succeeded) {
		int mine = r.n == 1 && r.responses[0].range.n == 1 &&
			   r.responses[0].range.kvs[0].create_revision == e->rev;
		etcd_txn_result_free(&r);
		if (!mine) {
			e->leader = 0;
			eset(e, "fenced write refused: election key '%s' is no longer ours%s", e->key, "");
			return SH_E_NOT_LEADER;
		}
		eset(e, "fenced write refused: a compare failed%s%s", "", "");
		return SH_E_CONFLICT;
	}
	if (out)
		*out = r;
	else
		etcd_txn_result_free(&r);
	return SH_OK;
}

sh_err etcd_election_leader(etcd_client *c, const char *prefix, const char *name, etcd_kv *leader)
{
	memset(leader, 0, sizeof(*leader));
	size_t plen = strlen(prefix) + strlen(name) + 2;
	char *p = malloc(plen);
	if (!p)
		return SH_E_NOMEM;
	snprintf(p, plen, "%s%s/", prefix, name);
	etcd_range_result r;
	etcd_range_opts o = {.prefix = 1, .limit = 1, .sort_order = ETCD_SORT_ASCEND, .sort_target = ETCD_SORT_CREATE};
	sh_err err = etcd_range(c, p, &o, &r);
	if (err) {
		free(p);
		return err;
	}
	if (r.n == 0) {
		etcd_setf(c, "no leader for election '%s'", p);
		free(p);
		etcd_range_result_free(&r);
		return SH_E_NOT_FOUND;
	}
	free(p);
	*leader = r.kvs[0];
	r.kvs[0] = (etcd_kv){0};
	etcd_range_result_free(&r);
	return SH_OK;
}
