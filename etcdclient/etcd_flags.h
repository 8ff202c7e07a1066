/* SPDX-License-Identifier: MIT */
/* etcd_flags.h - etcdctl-style connection flags and environment shared by every swarmheal program */
#ifndef ETCD_FLAGS_H
#define ETCD_FLAGS_H

#include "etcd.h"
#include "sh_opt.h"

/* The shared etcd connection options, as an option table (sh_opt.h). */

/* Values of the shared etcd options; etcd_flag_table's offsets point here. */
typedef struct etcd_flag_values {
	const char *endpoints, *cacert, *cert, *key, *user, *password;
	int64_t request_timeout_ms;
	char user_buf[256], password_buf[256]; /* --user NAME:PASSWORD split by etcd_flag_config */
} etcd_flag_values;

/* --endpoints (env SWARMHEAL_ENDPOINTS, then ETCDCTL_ENDPOINTS), --cacert, --cert, --key,
 * --user, --password (env ETCDCTL_*), --request-timeout: named as etcdctl names them. */
extern const sh_opt etcd_flag_table[];

/* Fill cfg (pointers into v) from parsed values; --user NAME:PASSWORD sets the password too.
 * 0 ok, -1 err filled (user name empty, or longer than 255 bytes). */
int etcd_flag_config(etcd_flag_values *v, etcd_config *cfg, char *err, size_t errlen);

#endif
