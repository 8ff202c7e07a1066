/* SPDX-License-Identifier: MIT */
/* etcd_flags.h - etcdctl-style connection flags and environment shared by every swarmheal program */
#ifndef ETCD_FLAGS_H
#define ETCD_FLAGS_H

#include <getopt.h>

#include "etcd.h"
#include "sh_opt.h"

/* Option ids for getopt_long tables; programs embed ETCD_FLAG_OPTIONS. */
enum {
	ETCD_OPT_ENDPOINTS = 1000,
	ETCD_OPT_CACERT,
	ETCD_OPT_CERT,
	ETCD_OPT_KEY,
	ETCD_OPT_USER,
	ETCD_OPT_PASSWORD,
	ETCD_OPT_REQUEST_TIMEOUT,
};

#define ETCD_FLAG_OPTIONS                                                    \
	{"endpoints", required_argument, 0, ETCD_OPT_ENDPOINTS},             \
	{"cacert", required_argument, 0, ETCD_OPT_CACERT},                   \
	{"cert", required_argument, 0, ETCD_OPT_CERT},                       \
	{"key", required_argument, 0, ETCD_OPT_KEY},                         \
	{"user", required_argument, 0, ETCD_OPT_USER},                       \
	{"password", required_argument, 0, ETCD_OPT_PASSWORD},              \
	{"request-timeout", required_argument, 0, ETCD_OPT_REQUEST_TIMEOUT}

#define ETCD_FLAGS_HELP                                                                            \
	"  --endpoints LIST       etcd endpoints, comma separated (env SWARMHEAL_ENDPOINTS,\n"       \
	"                         then ETCDCTL_ENDPOINTS; default http://127.0.0.1:2379)\n"         \
	"  --cacert FILE          CA bundle to verify etcd's certificate (env ETCDCTL_CACERT)\n"     \
	"  --cert FILE --key FILE client certificate and key for etcd (env ETCDCTL_CERT/_KEY)\n"     \
	"  --user NAME[:PASSWORD] etcd user (env ETCDCTL_USER)\n"                                    \
	"  --password PASSWORD    etcd password (env ETCDCTL_PASSWORD)\n"                            \
	"  --request-timeout DUR  timeout of each etcd request (default 5s)\n"

typedef struct etcd_flags {
	etcd_config cfg;
	char *user;    /* owned copies */
	char *password;
} etcd_flags;

/* Defaults from the environment. */
void etcd_flags_init(etcd_flags *f);
/* Apply one option. 0 ok; -1 bad value (err filled). */
int etcd_flags_set(etcd_flags *f, int id, const char *value, char *err, size_t errlen);
void etcd_flags_release(etcd_flags *f);

/* ---- the option-table form (sh_opt.h): what new programs use ---- */

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
