/* SPDX-License-Identifier: MIT */
/* cert_decide.c - renewal schedule with jitter, backoff capped before expiry, the decision, secret rotation plans */
#include "cert_decide.h"

#include <stdio.h>
#include <string.h>

#include "sh_util.h"

#define S INT64_C(1000000000)

uint64_t cert_jitter_of(const char *serial)
{
	uint64_t h = UINT64_C(1469598103934665603);
	for (const char *p = serial ? serial : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

int64_t cert_decide_renewal(int64_t not_before_ns, int64_t not_after_ns, int64_t renew_before_ns, uint64_t jitter)
{
	int64_t life = not_after_ns - not_before_ns;
	if (life <= 0)
		return not_before_ns;
	if (renew_before_ns > 0) {
		int64_t t = not_after_ns - renew_before_ns;
		return t < not_before_ns ? not_before_ns : t;
	}
	/* 2/3 without overflow for any lifetime an int64 holds */
	int64_t base = life / 3 * 2 + life % 3 * 2 / 3;
	int64_t span = life / 20;
	return not_before_ns + base + (int64_t)(jitter % (uint64_t)(span + 1));
}

int64_t cert_decide_retry(const cert_policy *p, int64_t failures, int64_t now_ns, int64_t not_after_ns)
{
	int64_t delay = p->backoff_base_ns;
	for (int64_t i = 1; i < failures && delay < p->backoff_max_ns; i++)
		delay *= 2;
	if (delay > p->backoff_max_ns)
		delay = p->backoff_max_ns;
	if (not_after_ns) {
		int64_t left = not_after_ns - p->lead_ns - now_ns;
		if (left > 0) {
			int64_t cap = left < S ? left : left / 2;
			if (delay > cap)
				delay = cap;
		}
	}
	return now_ns + delay;
}

static void set_reason(cert_decision *d, cert_act act, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void set_reason(cert_decision *d, cert_act act, const char *fmt, ...)
{
	d->act = act;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * The rules, first match wins:
 *  1. a malformed spec: REPORT its error, nothing else is touched;
 *  2. backing off after a failure (next_retry in the future): WAIT until then;
 *  3. no certificate yet: ISSUE;
 *  4. the spec changed since the certificate was issued (digest differs): ISSUE;
 *  5. the certificate expired: ISSUE;
 *  6. the files on disk need repair (broken chain, key mismatch, unreadable, ...): ISSUE;
 *  7. the secrets do not hold the current certificate: ISSUE;
 *  8. the renewal time has come: ISSUE;
 *  9. otherwise WAIT until the renewal time, re-deciding at least every recheck_ns.
 */
void cert_decide(const cert_observed *o, const cert_policy *p, int64_t now_ns, cert_decision *out)
{
	memset(out, 0, sizeof(*out));
	char t1[40], t2[40];
	if (o->spec_error || !o->spec) {
		set_reason(out, CERT_ACT_REPORT, "spec is malformed: %s", o->spec_error ? o->spec_error : "not parsed");
		return;
	}
	const rec_cert_status *st = o->status;
	const rec_cert_spec *spec = o->spec;
	int have = st && st->serial[0] && st->not_after_ns;
	if (have)
		out->renew_at_ns = cert_decide_renewal(st->not_before_ns, st->not_after_ns, spec->renew_before_ns,
						       cert_jitter_of(st->serial));
	if (st && st->failures > 0 && st->next_retry_ns > now_ns) {
		sh_rfc3339(st->next_retry_ns, t1, sizeof(t1));
		set_reason(out, CERT_ACT_WAIT, "backing off after %lld failed attempts until %s: %s",
			   (long long)st->failures, t1, st->last_error);
		out->next_check_ns = min64(st->next_retry_ns, now_ns + p->recheck_ns);
		return;
	}
	out->next_check_ns = now_ns + p->recheck_ns;
	if (!have) {
		set_reason(out, CERT_ACT_ISSUE, "no certificate issued yet");
		return;
	}
	if (st->spec_digest[0] && o->spec_digest && strcmp(st->spec_digest, o->spec_digest)) {
		set_reason(out, CERT_ACT_ISSUE, "spec changed since certificate %s was issued", st->serial);
		return;
	}
	if (now_ns >= st->not_after_ns) {
		sh_rfc3339(st->not_after_ns, t1, sizeof(t1));
		set_reason(out, CERT_ACT_ISSUE, "certificate %s expired at %s", st->serial, t1);
		return;
	}
	if (spec->has_files && o->files_fault != CERT_OK && o->files_fault != CERT_F_RENEW_DUE) {
		set_reason(out, CERT_ACT_ISSUE, "files need repair (%s): %s", cert_fault_name(o->files_fault),
			   o->files_why ? o->files_why : "");
		return;
	}
	if (spec->has_secret && !o->secret_current) {
		set_reason(out, CERT_ACT_ISSUE, "secrets '%s' do not hold certificate %s for every service",
			   spec->secret.name, st->serial);
		return;
	}
	sh_rfc3339(st->not_after_ns, t1, sizeof(t1));
	sh_rfc3339(out->renew_at_ns, t2, sizeof(t2));
	if (now_ns >= out->renew_at_ns) {
		set_reason(out, CERT_ACT_ISSUE, "certificate %s expires at %s; renewal due at %s", st->serial, t1, t2);
		return;
	}
	set_reason(out, CERT_ACT_WAIT, "certificate %s valid until %s; renewal at %s", st->serial, t1, t2);
	out->next_check_ns = min64(out->renew_at_ns, now_ns + p->recheck_ns);
}

void cert_status_succeeded(rec_cert_status *st, const cert_info *info, const rec_cert_spec *spec,
			   const char *spec_digest, int64_t now_ns)
{
	snprintf(st->serial, sizeof(st->serial), "%s", info->serial);
	st->not_before_ns = info->not_before_ns;
	st->not_after_ns = info->not_after_ns;
	st->next_renewal_ns = cert_decide_renewal(info->not_before_ns, info->not_after_ns, spec->renew_before_ns,
						  cert_jitter_of(info->serial));
	st->renewed_at_ns = now_ns;
	st->failures = 0;
	st->next_retry_ns = 0;
	snprintf(st->spec_digest, sizeof(st->spec_digest), "%s", spec_digest ? spec_digest : "");
	st->last_error[0] = '\0';
}

void cert_status_failed(rec_cert_status *st, const cert_policy *p, int64_t now_ns, const char *why)
{
	st->failures++;
	st->next_retry_ns = cert_decide_retry(p, st->failures, now_ns, st->not_after_ns);
	snprintf(st->last_error, sizeof(st->last_error), "%s", why ? why : "");
}

/* ---- secret rotation ---- */

int cert_secret_parse_name(const char *name, const char *base, const char *const *parts, size_t nparts, size_t *part,
			   int64_t *version)
{
	size_t bl = strlen(base);
	if (!name || strncmp(name, base, bl) || name[bl] != '.')
		return 0;
	const char *rest = name + bl + 1;
	for (size_t i = 0; i < nparts; i++) {
		size_t pl = strlen(parts[i]);
		if (strncmp(rest, parts[i], pl) || strncmp(rest + pl, ".v", 2))
			continue;
		const char *d = rest + pl + 2;
		int64_t v = 0;
		size_t n = 0;
		for (; d[n] >= '0' && d[n] <= '9' && n < 10; n++)
			v = v * 10 + (d[n] - '0');
		if (!n || d[n] || v <= 0 || (d[0] == '0'))
			return 0;
		*part = i;
		*version = v;
		return 1;
	}
	return 0;
}

static int is_wanted(const cert_rot_in *in, const char *name)
{
	for (size_t i = 0; name && i < in->nwanted; i++)
		if (!strcmp(in->wanted[i], name))
			return 1;
	return 0;
}

int cert_rot_plan_make(const cert_rot_in *in, cert_rot_plan *out)
{
	memset(out, 0, sizeof(*out));
	if (in->nparts == 0 || in->nparts > CERT_ROT_MAX_PARTS || in->nsecrets > CERT_ROT_MAX)
		return -1;
	/* the highest version, and whether it is whole and carries the serial */
	int64_t top = 0;
	for (size_t i = 0; i < in->nsecrets; i++) {
		size_t part;
		int64_t v;
		if (cert_secret_parse_name(in->secrets[i].name, in->base, in->parts, in->nparts, &part, &v) && v > top)
			top = v;
	}
	int whole = top > 0;
	for (size_t p = 0; whole && p < in->nparts; p++) {
		int found = 0;
		for (size_t i = 0; i < in->nsecrets && !found; i++) {
			size_t part;
			int64_t v;
			found = cert_secret_parse_name(in->secrets[i].name, in->base, in->parts, in->nparts, &part,
						       &v) &&
				v == top && part == p && in->secrets[i].serial && in->serial &&
				!strcmp(in->secrets[i].serial, in->serial);
		}
		whole = found;
	}
	out->version = whole ? top : top + 1;
	out->create = !whole;
	for (size_t p = 0; p < in->nparts; p++) {
		int n = snprintf(out->names[p], sizeof(out->names[p]), "%s.%s.v%lld", in->base, in->parts[p],
				 (long long)out->version);
		if (n < 0 || (size_t)n >= sizeof(out->names[p]))
			return -1;
	}
	/* one update per service that refers to an older version or is wanted */
	for (size_t s = 0; s < in->nservices; s++) {
		const cert_service *svc = &in->services[s];
		cert_rot_update u = {.service = s};
		int has[CERT_ROT_MAX_PARTS] = {0};
		size_t part;
		int64_t v;
		for (size_t r = 0; r < svc->nrefs; r++)
			if (cert_secret_parse_name(svc->refs[r].secret_name, in->base, in->parts, in->nparts, &part,
						   &v) &&
			    v == out->version)
				has[part] = 1;
		for (size_t r = 0; r < svc->nrefs; r++) {
			if (!cert_secret_parse_name(svc->refs[r].secret_name, in->base, in->parts, in->nparts, &part,
						    &v) ||
			    v == out->version)
				continue;
			if (u.nswaps >= CERT_ROT_MAX_SWAPS)
				return -1;
			cert_rot_swap *w = &u.swaps[u.nswaps++];
			w->part = part;
			w->add = !has[part];
			snprintf(w->old_name, sizeof(w->old_name), "%s", svc->refs[r].secret_name);
			snprintf(w->target, sizeof(w->target), "%s",
				 svc->refs[r].target && *svc->refs[r].target ? svc->refs[r].target
									     : svc->refs[r].secret_name);
			has[part] = 1;
		}
		if (is_wanted(in, svc->name))
			for (size_t p = 0; p < in->nparts; p++)
				if (!has[p]) {
					if (u.nswaps >= CERT_ROT_MAX_SWAPS)
						return -1;
					cert_rot_swap *w = &u.swaps[u.nswaps++];
					w->part = p;
					w->add = 1;
					snprintf(w->target, sizeof(w->target), "%s.%s", in->base, in->parts[p]);
				}
		if (!u.nswaps)
			continue;
		if (out->nupdates >= CERT_ROT_MAX)
			return -1;
		out->updates[out->nupdates++] = u;
	}
	for (size_t w = 0; w < in->nwanted && !out->missing[0]; w++) {
		int found = 0;
		for (size_t s = 0; s < in->nservices && !found; s++)
			found = in->services[s].name && !strcmp(in->services[s].name, in->wanted[w]);
		if (!found)
			snprintf(out->missing, sizeof(out->missing), "%s", in->wanted[w]);
	}
	/* versions no service refers to once the updates are done */
	for (size_t i = 0; i < in->nsecrets; i++) {
		size_t part;
		int64_t v;
		const char *name = in->secrets[i].name;
		if (!cert_secret_parse_name(name, in->base, in->parts, in->nparts, &part, &v) || v == out->version)
			continue;
		int used = 0;
		for (size_t s = 0; s < in->nservices && !used; s++) {
			const cert_service *svc = &in->services[s];
			for (size_t r = 0; r < svc->nrefs && !used; r++) {
				if (!svc->refs[r].secret_name || strcmp(svc->refs[r].secret_name, name))
					continue;
				used = 1;
				for (size_t k = 0; k < out->nupdates; k++) {
					const cert_rot_update *u = &out->updates[k];
					if (u->service != s)
						continue;
					for (size_t q = 0; q < u->nswaps; q++)
						if (!strcmp(u->swaps[q].old_name, name))
							used = 0;
				}
			}
		}
		if (!used)
			out->remove[out->nremove++] = name;
	}
	return 0;
}
