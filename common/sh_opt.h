/* SPDX-License-Identifier: MIT */
/* sh_opt.h - one option table per program: drives getopt, --help, --config files, the environment and reload */
#ifndef SH_OPT_H
#define SH_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Each option is declared once, in a table like git's parse-options or
 * curl's aliases[]: its type, where its value lives (an offset into the
 * group's struct), its default (as text, parsed like a flag value), a help
 * line, its environment variables and whether SIGHUP may reload it. The same
 * table serves the command line (getopt_long), --help, the --config file
 * (one "name = value" per line, the long flag names, '#' comments), the
 * environment and --print-config. Popt and argtable2 were weighed and left:
 * neither reads environment variables or a config file from the same table.
 *
 * Precedence, lowest first: default, --config file, environment, flag. A
 * reload (SIGHUP) re-reads the file and changes only reloadable options that
 * no flag or environment variable set; a bad file changes nothing.
 *
 * Storage by type: BOOL int; STRING and LIST const char * (owned by the
 * sh_opts, valid until sh_opts_release; NULL when unset with no default);
 * DURATION int64_t milliseconds (Go-style "500ms", "3s", "2m"; a bare number
 * is seconds); COUNT int64_t.
 */
enum sh_opt_type { SH_OPT_BOOL = 1, SH_OPT_STRING, SH_OPT_DURATION, SH_OPT_COUNT, SH_OPT_LIST };

#define SH_OPT_RELOAD 1u /* SIGHUP may change it through the --config file */
#define SH_OPT_SECRET 2u /* --print-config shows "<set>" instead of the value */

typedef struct sh_opt {
	const char *name;      /* long flag without dashes: "drain-grace"; NULL ends a table */
	enum sh_opt_type type;
	size_t off;            /* offset of the value in the group's struct */
	const char *def;       /* default as text; NULL: 0 / NULL */
	const char *arg;       /* placeholder in help ("DUR"); NULL: derived from the type */
	const char *help;      /* one line */
	const char *env;       /* comma list of environment variables, the first set one wins; NULL none */
	unsigned flags;        /* SH_OPT_RELOAD, SH_OPT_SECRET */
	int64_t min;           /* DURATION (ms) and COUNT: smallest value accepted */
	/* extra rule on a parsed value (points at the stored value); 0 ok, else fills err */
	int (*check)(const void *val, char *err, size_t errlen);
} sh_opt;

typedef struct sh_opt_group {
	const char *title;     /* heading in --help: "etcd connection" */
	const sh_opt *opts;    /* table ended by an entry with name NULL */
	void *base;            /* the struct the offsets point into */
	size_t size;           /* sizeof that struct (a reload validates a copy first) */
} sh_opt_group;

typedef struct sh_opts {
	const char *prog;        /* "swarmheald" */
	const char *synopsis;    /* "[options]"; more lines separated by '\n' */
	const char *description; /* paragraph after the usage lines */
	const char *footer;      /* exit statuses etc., printed last */
	int permute;             /* 1: options may follow operands (GNU order); 0: stop at the first operand */
	sh_opt_group *groups;
	size_t ngroups;
	/* filled by sh_opts_parse */
	const char *config_path; /* --config FILE, NULL when none */
	unsigned char **src;     /* per group, per option: 0 default, 1 file, 2 env, 3 flag */
	char **strs;             /* arena of strings the options point to */
	size_t nstrs;
} sh_opts;

/* What sh_opts_parse returns besides 0 (parsed: argv[*argi..] are the operands). */
enum { SH_OPTS_EXIT = 1 /* --help, --version or --print-config printed: exit 0 */, SH_OPTS_USAGE = 64 };

/*
 * Apply defaults, the --config file, the environment and argv, in that order.
 * Operands stop at the first non-option or "--". Errors print one git-style
 * line and "Try 'PROG --help'" on stderr and return SH_OPTS_USAGE.
 * --help prints the generated help on stdout; --version "PROG VERSION";
 * --print-config every option's effective value and where it came from.
 */
int sh_opts_parse(sh_opts *o, int argc, char **argv, int *argi);

/* The help text (what --help prints). */
void sh_opts_help(const sh_opts *o, FILE *f);

/*
 * Re-read the --config file (SIGHUP). Only reloadable options that were not
 * set by a flag or the environment change; a non-reloadable key whose value
 * changed is reported in err and ignored. On any bad line nothing changes and
 * -1 is returned with err naming the file and line; 0 when applied. The
 * caller serialises this against readers of the option structs.
 */
int sh_opts_reload(sh_opts *o, char *err, size_t errlen);

/* Parse one value of type t into *dst (int / const char * / int64_t as above). 0 ok, -1 err filled. */
int sh_opt_parse_value(const sh_opt *opt, const char *text, void *dst, char *err, size_t errlen);

void sh_opts_release(sh_opts *o);

#endif
