/* SPDX-License-Identifier: MIT */
/* cli.h - swarmhealctl: verbs as a table, what was read from etcd (cli_snap), the views built from it, output */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dock.h"
#include "etcd.h"
#include "sh_opt.h"

struct cJSON;

/*
 * Exit statuses (documented in --help and the README):
 *   0   answered (and, with --fail-on-degraded, nothing needs a person)
 *   1   the thing asked about does not exist, or a write was refused
 *   3   get status --fail-on-degraded: something needs a person
 *   64  usage (unknown verb, option or value)
 *   69  etcd unreachable or refused the request (one line on stderr)
 *   70  internal error (out of memory, a malformed answer)
 *   124 wait: the condition was not met before --timeout (as timeout(1))
 */
enum {
	CLI_OK = 0,
	CLI_NOT_FOUND = 1,
	CLI_DEGRADED = 3,
	CLI_USAGE = 64,
	CLI_UNAVAILABLE = 69,
	CLI_SOFTWARE = 70,
	CLI_TIMEOUT = 124,
};

/* Options every verb has (the "swarmhealctl" group). */
typedef struct cli_global {
	const char *output;      /* table, wide, json, yaml, jsonpath=EXPR */
	const char *prefix;      /* --prefix */
	const char *controllers; /* controllers expected to have a leader */
	int64_t etcd_quota;      /* bytes: etcd's --quota-backend-bytes (etcd does not report it) */
	const char *color;       /* auto, always, never */
} cli_global;

/* Options of the verbs (one struct: each verb's table points into the fields it has). */
typedef struct cli_verb_opts {
	int watch, fail_on_degraded;
	const char *selector, *zone;
	int64_t limit;
	const char *reason, *requested_by;
	const char *for_cond;
	int64_t timeout_ms;
} cli_verb_opts;

enum cli_fmt { CLI_TABLE, CLI_WIDE, CLI_JSON, CLI_YAML, CLI_JSONPATH };

typedef struct cli_ctx {
	const char *prog;    /* "swarmhealctl": the prefix of error lines */
	const char *uprog;   /* "swarmhealctl drain": usage errors point at the verb's --help */
	cli_global g;
	cli_verb_opts v;
	enum cli_fmt fmt;
	const char *jsonpath; /* with CLI_JSONPATH */
	int color;            /* 1: ANSI colours (a terminal, or --color always) */
	etcd_config ecfg;
	dock_config dcfg;
	int docker;           /* --docker-host (or DOCKER_HOST) was given: read Swarm's own view */
	etcd_client *etcd;
	dock_client *dock;
	FILE *out;
	const char *first_head; /* cli_out: the next table's first column header, once */
} cli_ctx;

/* A verb, as one entry of the command table (git's builtins, tmux's cmd_entry). */
typedef struct cli_cmd {
	const char *name;        /* "get" */
	const char *synopsis;    /* "status|nodes|... [options]" (lines separated by '\n') */
	const char *summary;     /* one line for the verb list */
	const char *description; /* paragraph with examples for --help */
	const sh_opt *opts;      /* its own options (offsets into cli_verb_opts); NULL-ended */
	const char *const *subjects; /* completion: first operands ("status", "nodes", ...); NULL-ended or NULL */
	int (*run)(cli_ctx *c, int argc, char **argv); /* operands after the verb */
} cli_cmd;

extern const cli_cmd cli_cmds[];
extern const size_t cli_ncmds;
extern const sh_opt cli_global_table[];

/* ---- what one read of etcd holds (filled by cli_fetch; unit tests fill it by hand) ---- */
typedef struct cli_endpoint {
	char endpoint[256];
	int reachable;
	char version[32], error[300];
	int64_t db_size, revision;
	uint64_t member_id, leader;
} cli_endpoint;

typedef struct cli_snap {
	int64_t now_ns;           /* real time of the read */
	const char *prefix;
	int64_t revision;         /* store revision of the reads (the watch starts after it) */
	cli_endpoint eps[16];
	size_t neps;
	etcd_range_result nodes, drain_state, drain_req, elections, cert_specs, cert_status, actions, snapshots,
		rollback_actions;
	int have_snapshots;       /* snapshots read (get/describe services) */
	etcd_kv arbiter;          /* /arbiter/mode */
	int arbiter_present;
	etcd_range_result last_action[16]; /* per expected or seen controller: its newest record */
	char last_action_ctl[16][64];
	size_t nlast;
	dock_node_list swarm;     /* Swarm's nodes with --docker-host */
	int have_swarm;
	char swarm_error[300];    /* --docker-host given but the engine did not answer */
	const char *controllers;  /* expected controllers (comma list) */
	int64_t etcd_quota;
	char error[400];          /* cli_fetch failed: the failing read's message */
} cli_snap;

/* What to read: a bit per part. */
enum {
	CLI_READ_ENDPOINTS = 1 << 0,
	CLI_READ_NODES = 1 << 1,     /* heartbeats, drain state and requests, Swarm's nodes */
	CLI_READ_ELECTIONS = 1 << 2, /* and each controller's newest action */
	CLI_READ_CERTS = 1 << 3,
	CLI_READ_ACTIONS = 1 << 4,   /* the newest `limit` actions of every writer */
	CLI_READ_ARBITER = 1 << 5,
	CLI_READ_SERVICES = 1 << 6,  /* rollback snapshots and the rollback controller's actions */
	CLI_READ_ALL_ACTIONS = 1 << 7, /* every action record (describe: those naming one target) */
	CLI_READ_SNAPSHOTS = 1 << 8,   /* every rollback snapshot (a spec each: get/describe services only) */
	CLI_READ_RECENT = 1 << 9,      /* the controllers' newest `limit` actions and each one's newest (no agents') */
	CLI_READ_STATUS = CLI_READ_ENDPOINTS | CLI_READ_NODES | CLI_READ_ELECTIONS | CLI_READ_CERTS | CLI_READ_RECENT |
			  CLI_READ_ARBITER | CLI_READ_SERVICES,
};

/* Services' states come from the newest this many rollback records (a service whose last record is older
 * than that shows as ok: the rollback controller, when it exists, should keep a state record per service). */
#define CLI_ROLLBACK_WINDOW 500

/* Read what `what` names (independent groups in parallel, each with its own client).
 * SH_OK, or the first etcd error with s->error naming it. Release s either way. */
sh_err cli_fetch(cli_ctx *c, unsigned what, int64_t limit, cli_snap *s);
void cli_snap_release(cli_snap *s);

/* ---- views: pure functions of a snapshot (cli_model.c); each returns a cJSON tree (caller frees) ---- */
typedef struct cli_filter {
	const char *selector; /* "field=value,field!=value" over an item's top-level fields */
	const char *zone;
} cli_filter;

struct cJSON *cli_view_status(const cli_snap *s, const cli_filter *f, int64_t nactions);
struct cJSON *cli_view_nodes(const cli_snap *s, const cli_filter *f);
struct cJSON *cli_view_elections(const cli_snap *s, const cli_filter *f);
struct cJSON *cli_view_certs(const cli_snap *s, const cli_filter *f);
struct cJSON *cli_view_actions(const cli_snap *s, const cli_filter *f, int64_t limit);
struct cJSON *cli_view_services(const cli_snap *s, const cli_filter *f);
/* One item with details; NULL when NAME is unknown. */
struct cJSON *cli_view_node(const cli_snap *s, const char *name);
struct cJSON *cli_view_service(const cli_snap *s, const char *name);
struct cJSON *cli_view_cert(const cli_snap *s, const char *name);
/* 1 when an item passes the filter; -1 when the selector is malformed (err filled). */
int cli_filter_check(const cli_filter *f, char *err, size_t errlen);

/*
 * The min-available gate (cli_drain.c), asked of the drain controller's own decision (drain_decide) with what
 * was read (Swarm's nodes, the heartbeats, drain states and requests, the arbiter mode) and the labelled
 * services' running tasks: would a drain request for node (ID or hostname) drain it now? 1 yes, 0 refused,
 * -1 neither (already drained, dead, not in the swarm); reason says why. The controller's --max-drained is
 * not known here: its default (a third of the nodes) is used. now_mono is the monotonic clock.
 */
struct drain_service;
int cli_gate_decide(const cli_snap *s, const struct drain_service *svcs, size_t nsvc, const char *node,
		    int64_t now_mono, char *reason, size_t len);

/* ---- output (cli_out.c) ---- */
/* Parse -o: 0 ok, -1 unknown. */
int cli_parse_output(const char *s, enum cli_fmt *fmt, const char **jsonpath);
/* Print a view in c->fmt (table/wide by the view's "kind"). 0 ok, -1 jsonpath error (message on stderr). */
int cli_print(cli_ctx *c, const struct cJSON *view);
/* YAML through libyaml's emitter; 0 ok, -1 emitter error. */
int cli_emit_yaml(const struct cJSON *v, FILE *f);
/* The documented jsonpath subset: "{.items[*].name}", ".a.b[0]", "{.items[0]}"; results space-separated.
 * 0 ok, -1 malformed expression (err filled). */
int cli_jsonpath(const struct cJSON *v, const char *expr, FILE *f, char *err, size_t errlen);

/* Age of ns (now - then) as kubectl prints it: "45s", "3m12s", "5h", "12d". */
void cli_age(int64_t ns, char *out, size_t len);

/* ---- generated text (cli_man.c) ---- */
void cli_man_page(FILE *f, const cli_cmd *cmd, const sh_opt_group *globals, size_t nglobals);
void cli_completion_bash(FILE *f, const sh_opt_group *globals, size_t nglobals);

/* One line on stderr for an etcd failure (msg, or etcd_errmsg(c->etcd) when NULL); returns 69 (70 for a
 * malformed answer or no memory). */
int cli_etcd_fail(cli_ctx *c, sh_err e, const char *msg);

/* The entry point main.c calls. */
int cli_main(int argc, char **argv);

#endif
