/* SPDX-License-Identifier: MIT */
/* etcd_flags.c - parse etcdctl-style connection flags and environment into an etcd_config */
#include "etcd_flags.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

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
