/* SPDX-License-Identifier: MIT */
/* etcd_flags.c - parse etcdctl-style connection flags and environment into an etcd_config */
#include "etcd_flags.h"

#include <stddef.h>
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

#define EV(f) offsetof(etcd_flag_values, f)
const sh_opt etcd_flag_table[] = {
	{"endpoints", SH_OPT_LIST, EV(endpoints), "http://127.0.0.1:2379", "LIST", "etcd endpoints, comma separated",
	 "SWARMHEAL_ENDPOINTS,ETCDCTL_ENDPOINTS", 0, 0, NULL},
	{"cacert", SH_OPT_STRING, EV(cacert), NULL, "FILE", "CA bundle to verify etcd's certificate", "ETCDCTL_CACERT", 0, 0,
	 NULL},
	{"cert", SH_OPT_STRING, EV(cert), NULL, "FILE", "client certificate for etcd", "ETCDCTL_CERT", 0, 0, NULL},
	{"key", SH_OPT_STRING, EV(key), NULL, "FILE", "client key for etcd", "ETCDCTL_KEY", 0, 0, NULL},
	{"user", SH_OPT_STRING, EV(user), NULL, "NAME[:PASSWORD]", "etcd user", "ETCDCTL_USER", SH_OPT_SECRET, 0, NULL},
	{"password", SH_OPT_STRING, EV(password), NULL, "PASSWORD", "etcd password", "ETCDCTL_PASSWORD", SH_OPT_SECRET, 0,
	 NULL},
	{"request-timeout", SH_OPT_DURATION, EV(request_timeout_ms), "5s", NULL, "timeout of each etcd request",
	 "SWARMHEAL_REQUEST_TIMEOUT", 0, 1, NULL},
	{0},
};

int etcd_flag_config(etcd_flag_values *v, etcd_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->endpoints = v->endpoints;
	cfg->cacert = v->cacert;
	cfg->cert = v->cert;
	cfg->key = v->key;
	cfg->password = v->password;
	cfg->timeout_ms = (long)v->request_timeout_ms;
	if (v->user) {
		const char *colon = strchr(v->user, ':');
		size_t n = colon ? (size_t)(colon - v->user) : strlen(v->user);
		if (!n || n >= sizeof(v->user_buf)) {
			snprintf(err, errlen, "invalid --user '%s' (want NAME or NAME:PASSWORD)", colon ? "NAME:..." : v->user);
			return -1;
		}
		memcpy(v->user_buf, v->user, n);
		v->user_buf[n] = '\0';
		cfg->user = v->user_buf;
		if (colon) {
			snprintf(v->password_buf, sizeof(v->password_buf), "%s", colon + 1);
			cfg->password = v->password_buf;
		}
	}
	return 0;
}
