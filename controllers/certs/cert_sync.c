/* SPDX-License-Identifier: MIT */
/* cert_sync.c - one certificate spec reconciled: observe (CA, files, secrets), decide, issue, verify, deliver */
#include "cert_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const cert_env *env, rec_cert_status *st, cert_sync_out *out, int64_t now_ns, sh_err e,
		 const char *why)
{
	cert_status_failed(st, &env->policy, now_ns, why);
	out->err = e ? e : SH_E_IO;
	out->next_check_ns = st->next_retry_ns;
}

static int status_equal(const rec_cert_status *a, const rec_cert_status *b)
{
	return !strcmp(a->serial, b->serial) && a->not_before_ns == b->not_before_ns &&
	       a->not_after_ns == b->not_after_ns && a->next_renewal_ns == b->next_renewal_ns &&
	       a->renewed_at_ns == b->renewed_at_ns && a->failures == b->failures &&
	       a->next_retry_ns == b->next_retry_ns && a->secret_version == b->secret_version &&
	       !strcmp(a->spec_digest, b->spec_digest) && !strcmp(a->last_error, b->last_error);
}

/* Issue, verify, deliver; 0 ok, else st/out carry the failure. */
static void issue_and_deliver(const cert_env *env, const rec_cert_spec *spec, const char *digest, const cert_ca *ca,
			      int64_t now_ns, rec_cert_status *st, cert_sync_out *out)
{
	char why[512] = "", vwhy[440] = "";
	cert_bundle b;
	sh_err e = cert_issue(spec, ca, now_ns, &b, why, sizeof(why));
	if (e) {
		fail(env, st, out, now_ns, e, why);
		return;
	}
	cert_fault f = cert_verify(spec, ca, &b, now_ns, 0, vwhy, sizeof(vwhy));
	if (f != CERT_OK) {
		snprintf(why, sizeof(why), "issued certificate not delivered (%s): %s", cert_fault_name(f), vwhy);
		cert_bundle_free(&b);
		fail(env, st, out, now_ns, SH_E_INVAL, why);
		return;
	}
	cert_info info;
	cert_info_of(b.leaf, &info);
	cert_pem pem;
	e = cert_bundle_pem(&b, spec->has_files && !spec->files.chain[0], &pem);
	cert_bundle_free(&b);
	if (e) {
		fail(env, st, out, now_ns, e, "out of memory encoding the certificate");
		return;
	}
	if (spec->has_files)
		e = cert_deliver_files(env->dock, spec, &pem, &out->signalled, why, sizeof(why));
	int64_t version = st->secret_version;
	if (!e && spec->has_secret) {
		if (!env->dock) {
			e = SH_E_INVAL;
			snprintf(why, sizeof(why), "secret '%s' needs the Engine API, and there is no engine client",
				 spec->secret.name);
		} else {
			e = cert_deliver_secrets(env->dock, spec, &pem, info.serial, &version, env->hook, why, sizeof(why));
		}
	}
	cert_pem_free(&pem);
	if (e) {
		/* a partial delivery is finished by the next attempt: files are whole, secrets versioned */
		fail(env, st, out, now_ns, e, why);
		return;
	}
	cert_status_succeeded(st, &info, spec, digest, now_ns);
	st->secret_version = spec->has_secret ? version : 0;
	out->issued = 1;
	out->next_check_ns = st->next_renewal_ns < now_ns + env->policy.recheck_ns ? st->next_renewal_ns
										   : now_ns + env->policy.recheck_ns;
}

void cert_sync(const cert_env *env, const char *spec_json, size_t len, const rec_cert_status *old,
	       cert_check_memo *memo, int64_t now_ns, rec_cert_status *st, cert_sync_out *out)
{
	memset(out, 0, sizeof(*out));
	if (old)
		*st = *old;
	else
		memset(st, 0, sizeof(*st));
	rec_cert_spec *spec = malloc(sizeof(*spec));
	char perr[256] = "", digest[72] = "", fwhy[512] = "", swhy[512] = "", cwhy[512] = "";
	cert_observed o = {0};
	cert_ca ca;
	memset(&ca, 0, sizeof(ca));
	if (!spec) {
		out->err = SH_E_NOMEM;
		return;
	}
	if (rec_cert_spec_parse(spec_json, len, spec, perr, sizeof(perr))) {
		o.spec_error = perr;
		cert_decide(&o, &env->policy, now_ns, &out->decision);
		snprintf(st->last_error, sizeof(st->last_error), "%.500s", out->decision.reason);
		out->err = SH_E_MALFORMED;
		goto done;
	}
	o.spec = spec;
	o.status = old;
	o.files_fault = CERT_OK;
	if (cert_spec_digest(spec, digest, sizeof(digest)) == 0)
		o.spec_digest = digest;
	sh_err ca_err = cert_ca_load(spec, now_ns, &ca, cwhy, sizeof(cwhy));
	if (spec->has_files && !ca_err) {
		o.files_fault = cert_check_files(spec, &ca, now_ns, 0, memo, NULL, fwhy, sizeof(fwhy));
		o.files_why = fwhy;
	}
	sh_err obs_err = SH_OK;
	if (spec->has_secret && old && old->serial[0]) {
		if (env->dock)
			obs_err = cert_observe_secrets(env->dock, spec, old->serial, old->secret_version,
						       &o.secret_current, swhy, sizeof(swhy));
	} else if (spec->has_secret) {
		o.secret_current = 0;
	}
	cert_decide(&o, &env->policy, now_ns, &out->decision);
	out->next_check_ns = out->decision.next_check_ns;
	if (out->decision.act != CERT_ACT_ISSUE || env->dry_run)
		goto done;
	if (obs_err) {
		fail(env, st, out, now_ns, obs_err, swhy);
		goto done;
	}
	if (ca_err) {
		fail(env, st, out, now_ns, ca_err, cwhy);
		goto done;
	}
	issue_and_deliver(env, spec, digest, &ca, now_ns, st, out);
	if (memo && out->issued)
		memo->valid = 0;
done:
	out->status_changed = !old || !status_equal(st, old);
	cert_ca_free(&ca);
	free(spec);
}
