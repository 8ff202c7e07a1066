/* SPDX-License-Identifier: MIT */
/* etcd_flags.c - parse etcdctl-style connection flags and environment into an etcd_config */
#include "etcd_flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static void set_user(etcd_flags *f, const char *v)
{
	free(f->user);
	f->user = strdup(v);
	char *colon = f->user ? strchr(f->user, ':') : NULL;
	if (colon) {
		*colon = '\0';
		free(f->password);
		f->password = strdup(colon + 1);
	}
	f->cfg.user = f->user;
	f->cfg.password = f->password;
}

void etcd_flags_init(etcd_flags *f)
{
	memset(f, 0, sizeof(*f));
	etcd_config_from_env(&f->cfg);
	f->cfg.cacert = env("ETCDCTL_CACERT");
	f->cfg.cert = env("ETCDCTL_CERT");
	f->cfg.key = env("ETCDCTL_KEY");
	if (env("ETCDCTL_PASSWORD")) {
		f->password = strdup(env("ETCDCTL_PASSWORD"));
		f->cfg.password = f->password;
	}
	if (env("ETCDCTL_USER"))
		set_user(f, env("ETCDCTL_USER"));
}

int etcd_flags_set(etcd_flags *f, int id, const char *v, char *err, size_t errlen)
{
	switch (id) {
	case ETCD_OPT_ENDPOINTS:
		if (!*v) {
			snprintf(err, errlen, "--endpoints must not be empty");
			return -1;
		}
		f->cfg.endpoints = v;
		return 0;
	case ETCD_OPT_CACERT:
		f->cfg.cacert = v;
		return 0;
	case ETCD_OPT_CERT:
		f->cfg.cert = v;
		return 0;
	case ETCD_OPT_KEY:
		f->cfg.key = v;
		return 0;
	case ETCD_OPT_USER:
		if (!*v || *v == ':') {
			snprintf(err, errlen, "--user needs a user name");
			return -1;
		}
		set_user(f, v);
		return 0;
	case ETCD_OPT_PASSWORD:
		free(f->password);
		f->password = strdup(v);
		f->cfg.password = f->password;
		return 0;
	case ETCD_OPT_REQUEST_TIMEOUT: {
		int64_t ms;
		if (sh_parse_duration_ms(v, &ms) || ms <= 0) {
			snprintf(err, errlen, "invalid --request-timeout '%s' (want a duration like 5s)", v);
			return -1;
		}
		f->cfg.timeout_ms = (long)ms;
		return 0;
	}
	}
	snprintf(err, errlen, "not an etcd flag");
	return -1;
}

void etcd_flags_release(etcd_flags *f)
{
	free(f->user);
	free(f->password);
	f->user = f->password = NULL;
}
