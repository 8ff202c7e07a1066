/* SPDX-License-Identifier: MIT */
/* cert_deliver.c - delivery of verified certificates: atomic files + reload signal, versioned Swarm secrets */
#include "cert_deliver.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_files.h"

const char *const cert_parts[CERT_ROT_MAX_PARTS] = {"cert", "chain", "key"};

const char *cert_step_name(cert_step s)
{
	switch (s) {
	case CERT_STEP_PLANNED: return "planned";
	case CERT_STEP_CREATED: return "created";
	case CERT_STEP_SWITCHED: return "switched";
	case CERT_STEP_REMOVED: return "removed";
	}
	return "?";
}

static void setw(char *why, size_t wlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setw(char *why, size_t wlen, const char *fmt, ...)
{
	if (!why || !wlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, wlen, fmt, ap);
	va_end(ap);
}

sh_err cert_deliver_files(dock_client *dock, const rec_cert_spec *spec, const cert_pem *pem, int *signalled, char *why,
			  size_t wlen)
{
	if (signalled)
		*signalled = 0;
	if (!spec->has_files)
		return SH_OK;
	sh_err e = cert_write_atomic(spec->files.key, pem->key, strlen(pem->key), 0600, why, wlen);
	if (!e && spec->files.chain[0])
		e = cert_write_atomic(spec->files.chain, pem->chain, strlen(pem->chain), 0644, why, wlen);
	if (!e)
		e = cert_write_atomic(spec->files.cert, pem->cert, strlen(pem->cert), 0644, why, wlen);
	if (e || !spec->files.reload_label[0] || !dock)
		return e;
	int failed = 0;
	e = dock_containers_kill_by_label(dock, spec->files.reload_label, spec->files.signal, signalled, &failed);
	if (e)
		setw(why, wlen, "files written, but the reload failed for %d container(s) labelled '%s': %s", failed,
		     spec->files.reload_label, dock_errmsg(dock));
	return e;
}

/* What the engine holds for one spec: its secrets and every service, as plan input. */
typedef struct observed {
	dock_secret_list secrets;
	dock_service_list services;
	cert_secret sec[CERT_ROT_MAX];
	cert_service svc[CERT_ROT_MAX * 4];
	cert_secret_ref *refs;
	size_t nsec, nsvc;
} observed;

static void observed_free(observed *o)
{
	dock_secret_list_free(&o->secrets);
	dock_service_list_free(&o->services);
	free(o->refs);
	o->refs = NULL;
}

static sh_err observe(dock_client *dock, const rec_cert_spec *spec, observed *o, char *why, size_t wlen)
{
	memset(o, 0, sizeof(*o));
	char filters[256];
	snprintf(filters, sizeof(filters), "{\"name\":[\"%s.\"]}", spec->secret.name);
	sh_err e = dock_secrets_list(dock, filters, &o->secrets);
	if (e) {
		setw(why, wlen, "%s", dock_errmsg(dock));
		return e;
	}
	if ((e = dock_services_list(dock, &o->services))) {
		setw(why, wlen, "%s", dock_errmsg(dock));
		observed_free(o);
		return e;
	}
	for (size_t i = 0; i < o->secrets.n; i++) {
		size_t part;
		int64_t v;
		if (!cert_secret_parse_name(o->secrets.v[i].name, spec->secret.name, cert_parts, CERT_ROT_MAX_PARTS,
					    &part, &v))
			continue;
		if (o->nsec >= CERT_ROT_MAX) {
			setw(why, wlen, "more than %d secrets named '%s.*'", CERT_ROT_MAX, spec->secret.name);
			observed_free(o);
			return SH_E_TOO_LARGE;
		}
		o->sec[o->nsec++] = (cert_secret){o->secrets.v[i].name, o->secrets.v[i].id,
						  dock_secret_label(&o->secrets.v[i], CERT_LABEL_SERIAL)};
	}
	size_t nrefs = 0;
	for (size_t i = 0; i < o->services.n; i++)
		nrefs += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(o->services.v[i].spec, "TaskTemplate"),
				"ContainerSpec"),
			"Secrets"));
	o->refs = calloc(nrefs + 1, sizeof(*o->refs));
	if (!o->refs) {
		observed_free(o);
		return SH_E_NOMEM;
	}
	size_t r = 0;
	for (size_t i = 0; i < o->services.n && o->nsvc < sizeof(o->svc) / sizeof(o->svc[0]); i++) {
		const dock_service *s = &o->services.v[i];
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s->spec, "TaskTemplate"),
							 "ContainerSpec"),
			"Secrets");
		cert_service *cs = &o->svc[o->nsvc++];
		*cs = (cert_service){s->id, s->name, o->refs + r, 0};
		const cJSON *ref;
		cJSON_ArrayForEach(ref, list)
		{
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(ref, "SecretName");
			const cJSON *t =
				cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ref, "File"), "Name");
			if (!cJSON_IsString(n) || r >= nrefs)
				continue;
			o->refs[r++] = (cert_secret_ref){n->valuestring, cJSON_IsString(t) ? t->valuestring : NULL};
			cs->nrefs++;
		}
	}
	return SH_OK;
}

struct swap_ctx {
	const cert_rot_update *u;
	const cert_rot_plan *plan;
	char ids[CERT_ROT_MAX_PARTS][80];
};

/* Applied to the freshly read spec each time (re-run on "out of sequence"). */
static int apply_swaps(dock_service *s, cJSON *spec, void *ud)
{
	(void)s;
	const struct swap_ctx *x = ud;
	for (size_t i = 0; i < x->u->nswaps; i++) {
		const cert_rot_swap *w = &x->u->swaps[i];
		const char *nn = w->add ? x->plan->names[w->part] : NULL;
		if (dock_spec_secret_swap(spec, w->old_name[0] ? w->old_name : NULL, nn, nn ? x->ids[w->part] : NULL,
					  w->target, CERT_SECRET_MODE) < 0)
			return -1;
	}
	return 1;
}

static sh_err step(const cert_step_hook *hook, cert_step s, const char *object, const char *detail, char *why,
		   size_t wlen)
{
	if (!hook || !hook->fn)
		return SH_OK;
	sh_err e = hook->fn(s, object, detail ? detail : "", hook->ud);
	if (e)
		setw(why, wlen, "delivery stopped at step '%s' of '%s': %s", cert_step_name(s), object, sh_strerror(e));
	return e;
}

/* appends ", name" (or "name" first) to buf, "..." once full */
static void add_name(char *buf, size_t len, const char *name)
{
	size_t n = strlen(buf);
	if (n + strlen(name) + 6 >= len) {
		if (n + 4 < len && (n < 3 || strcmp(buf + n - 3, "...")))
			strcat(buf, "...");
		return;
	}
	snprintf(buf + n, len - n, "%s%s", n ? ", " : "", name);
}

sh_err cert_deliver_secrets(dock_client *dock, const rec_cert_spec *spec, const cert_pem *pem, const char *serial,
			    int64_t *version, const cert_step_hook *hook, char *why, size_t wlen)
{
	if (version)
		*version = 0;
	if (!spec->has_secret)
		return SH_OK;
	observed o;
	sh_err e = observe(dock, spec, &o, why, wlen);
	if (e)
		return e;
	cert_rot_in in = {.base = spec->secret.name,
			  .parts = cert_parts,
			  .nparts = CERT_ROT_MAX_PARTS,
			  .secrets = o.sec,
			  .nsecrets = o.nsec,
			  .services = o.svc,
			  .nservices = o.nsvc,
			  .wanted = spec->secret.services,
			  .nwanted = spec->secret.n_services,
			  .serial = serial};
	cert_rot_plan *plan = malloc(sizeof(*plan));
	struct swap_ctx *x = calloc(1, sizeof(*x));
	if (!plan || !x) {
		free(plan);
		free(x);
		observed_free(&o);
		return SH_E_NOMEM;
	}
	if (cert_rot_plan_make(&in, plan)) {
		setw(why, wlen, "secrets of '%s' exceed the plan's limits", spec->secret.name);
		e = SH_E_TOO_LARGE;
		goto out;
	}
	x->plan = plan;
	char object[CERT_SECRET_NAME_LEN + 16], detail[1024] = "", names[700] = "";
	snprintf(object, sizeof(object), "%s.*.v%lld", spec->secret.name, (long long)plan->version);
	for (size_t k = 0; k < plan->nupdates; k++)
		add_name(names, sizeof(names), o.svc[plan->updates[k].service].name);
	snprintf(detail, sizeof(detail), "%s %s for serial %s, switch %zu service(s)%s%s, then remove %zu unused secret(s)",
		 plan->create ? "create" : "reuse", object, serial, plan->nupdates, plan->nupdates ? ": " : "", names,
		 plan->nremove);
	if ((e = step(hook, CERT_STEP_PLANNED, object, detail, why, wlen)))
		goto out;
	const char *data[CERT_ROT_MAX_PARTS] = {pem->cert, pem->chain, pem->key};
	for (size_t p = 0; p < CERT_ROT_MAX_PARTS; p++) {
		if (!plan->create) {
			for (size_t i = 0; i < o.nsec; i++)
				if (!strcmp(o.sec[i].name, plan->names[p]))
					snprintf(x->ids[p], sizeof(x->ids[p]), "%s", o.sec[i].id);
			continue;
		}
		cJSON *labels = cJSON_CreateObject();
		if (!labels || !cJSON_AddStringToObject(labels, CERT_LABEL_SERIAL, serial)) {
			cJSON_Delete(labels);
			e = SH_E_NOMEM;
			goto out;
		}
		e = dock_secret_create(dock, plan->names[p], data[p], strlen(data[p]), labels, x->ids[p],
				       sizeof(x->ids[p]));
		cJSON_Delete(labels);
		if (e) {
			setw(why, wlen, "create secret '%s': %s", plan->names[p], dock_errmsg(dock));
			goto out;
		}
	}
	if ((e = step(hook, CERT_STEP_CREATED, object, plan->create ? "created" : "found from an earlier attempt",
		      why, wlen)))
		goto out;
	sh_err later = SH_OK;
	char later_why[512] = "";
	for (size_t k = 0; k < plan->nupdates; k++) {
		x->u = &plan->updates[k];
		const cert_service *svc = &o.svc[x->u->service];
		e = dock_service_update_with(dock, svc->id, apply_swaps, x);
		if (e) {
			setw(why, wlen, "switch service '%s' to '%s.*.v%lld': %s", svc->name, spec->secret.name,
			     (long long)plan->version, dock_errmsg(dock));
			goto out;
		}
		if ((e = step(hook, CERT_STEP_SWITCHED, svc->name, object, why, wlen)))
			goto out;
	}
	names[0] = '\0';
	for (size_t k = 0; k < plan->nremove; k++) {
		sh_err r = dock_secret_remove(dock, plan->remove[k]);
		if (r && r != SH_E_NOT_FOUND && !later) {
			later = r;
			snprintf(later_why, sizeof(later_why), "remove unused secret '%s': %s", plan->remove[k],
				 dock_errmsg(dock));
		} else if (!r) {
			add_name(names, sizeof(names), plan->remove[k]);
		}
	}
	if ((e = step(hook, CERT_STEP_REMOVED, object, names, why, wlen)))
		goto out;
	if (!later && plan->missing[0]) {
		later = SH_E_NOT_FOUND;
		snprintf(later_why, sizeof(later_why), "service '%s' named in secret.services of '%s' does not exist",
			 plan->missing, spec->secret.name);
	}
	if (version)
		*version = plan->version;
	e = later;
	if (e)
		setw(why, wlen, "%s", later_why);
out:
	free(plan);
	free(x);
	observed_free(&o);
	return e;
}

sh_err cert_observe_secrets(dock_client *dock, const rec_cert_spec *spec, const char *serial, int64_t version,
			    int *current, char *why, size_t wlen)
{
	*current = 0;
	if (!spec->has_secret)
		return SH_OK;
	observed o;
	sh_err e = observe(dock, spec, &o, why, wlen);
	if (e)
		return e;
	int ok = version > 0 && serial && *serial;
	for (size_t p = 0; ok && p < CERT_ROT_MAX_PARTS; p++) {
		int found = 0;
		for (size_t i = 0; i < o.nsec && !found; i++) {
			size_t part;
			int64_t v;
			found = cert_secret_parse_name(o.sec[i].name, spec->secret.name, cert_parts, CERT_ROT_MAX_PARTS,
						       &part, &v) &&
				part == p && v == version && o.sec[i].serial && !strcmp(o.sec[i].serial, serial);
		}
		ok = found;
	}
	for (size_t s = 0; ok && s < o.nsvc; s++) {
		int has[CERT_ROT_MAX_PARTS] = {0}, other = 0;
		for (size_t r = 0; r < o.svc[s].nrefs; r++) {
			size_t part;
			int64_t v;
			if (cert_secret_parse_name(o.svc[s].refs[r].secret_name, spec->secret.name, cert_parts,
						   CERT_ROT_MAX_PARTS, &part, &v)) {
				if (v == version)
					has[part] = 1;
				else
					other = 1;
			}
		}
		int wanted = 0;
		for (size_t w = 0; w < spec->secret.n_services && !wanted; w++)
			wanted = o.svc[s].name && !strcmp(o.svc[s].name, spec->secret.services[w]);
		if (other || (wanted && !(has[0] && has[1] && has[2])))
			ok = 0;
	}
	for (size_t w = 0; ok && w < spec->secret.n_services; w++) {
		int found = 0;
		for (size_t s = 0; s < o.nsvc && !found; s++)
			found = o.svc[s].name && !strcmp(o.svc[s].name, spec->secret.services[w]);
		ok = found;
	}
	*current = ok;
	observed_free(&o);
	return SH_OK;
}

int cert_spec_digest(const rec_cert_spec *spec, char *out, size_t outlen)
{
	if (outlen < 65)
		return -1;
	char *j = rec_cert_spec_encode(spec);
	unsigned char md[32];
	unsigned int n = 0;
	int ok = j && EVP_Digest(j, strlen(j), md, &n, EVP_sha256(), NULL) && n == 32;
	free(j);
	if (!ok)
		return -1;
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
