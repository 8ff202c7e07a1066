/* SPDX-License-Identifier: MIT */
/* dock_flags.c - the shared option table of the engine connection flags */
#include "dock_flags.h"

#include <stddef.h>

#define DV(f) offsetof(dock_config, f)
const sh_opt dock_flag_table[] = {
	{"docker-host", SH_OPT_STRING, DV(host), "unix:///var/run/docker.sock", "HOST",
	 "Docker engine (unix:///path or tcp://host:2376); swarmheald needs a Swarm manager's", "DOCKER_HOST", 0, 0, NULL},
	{"docker-tls-ca", SH_OPT_STRING, DV(tls_ca), NULL, "FILE", "CA to verify a tcp:// engine", NULL, 0, 0, NULL},
	{"docker-tls-cert", SH_OPT_STRING, DV(tls_cert), NULL, "FILE", "client certificate for a tcp:// engine", NULL, 0, 0,
	 NULL},
	{"docker-tls-key", SH_OPT_STRING, DV(tls_key), NULL, "FILE", "client key for a tcp:// engine", NULL, 0, 0, NULL},
	{0},
};
