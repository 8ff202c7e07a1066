/* SPDX-License-Identifier: MIT */
/* dock_flags.h - docker-CLI-style engine connection flags shared by every swarmheal program */
#ifndef DOCK_FLAGS_H
#define DOCK_FLAGS_H

#include <getopt.h>

#include "dock.h"
#include "sh_opt.h"

/* Option ids for getopt_long tables; programs embed DOCK_FLAG_OPTIONS (beside ETCD_FLAG_OPTIONS). */
enum {
	DOCK_OPT_HOST = 1100,
	DOCK_OPT_TLS_CA,
	DOCK_OPT_TLS_CERT,
	DOCK_OPT_TLS_KEY,
};

#define DOCK_FLAG_OPTIONS                                              \
	{"docker-host", required_argument, 0, DOCK_OPT_HOST},          \
	{"docker-tls-ca", required_argument, 0, DOCK_OPT_TLS_CA},      \
	{"docker-tls-cert", required_argument, 0, DOCK_OPT_TLS_CERT},  \
	{"docker-tls-key", required_argument, 0, DOCK_OPT_TLS_KEY}

#define DOCK_FLAGS_HELP                                                                              \
	"  --docker-host HOST     engine (env DOCKER_HOST; default unix:///var/run/docker.sock)\n"      \
	"  --docker-tls-ca FILE --docker-tls-cert FILE --docker-tls-key FILE\n"

/* Apply one option to cfg: 1 when id is a docker flag, 0 when it is not. */
static inline int dock_flags_set(dock_config *cfg, int id, const char *value)
{
	switch (id) {
	case DOCK_OPT_HOST:
		cfg->host = value;
		return 1;
	case DOCK_OPT_TLS_CA:
		cfg->tls_ca = value;
		return 1;
	case DOCK_OPT_TLS_CERT:
		cfg->tls_cert = value;
		return 1;
	case DOCK_OPT_TLS_KEY:
		cfg->tls_key = value;
		return 1;
	}
	return 0;
}

/* The option-table form (sh_opt.h): offsets into a dock_config. --docker-host (env DOCKER_HOST,
 * default unix:///var/run/docker.sock), --docker-tls-ca/-cert/-key: named as the docker CLI's. */
extern const sh_opt dock_flag_table[];

#endif
