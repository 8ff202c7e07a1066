/* SPDX-License-Identifier: MIT */
/* sh_opt.c - option tables: getopt_long, generated help, --config files, environment, reload */
#include "sh_opt.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "sh_util.h"

static size_t table_len(const sh_opt *t)
{
	size_t n = 0;
	while (t && t[n].name)
		n++;
	return n;
}

static const char *type_arg(const sh_opt *opt)
{
	if (opt->arg)
		return opt->arg;
	switch (opt->type) {
	case SH_OPT_DURATION:
		return "DUR";
	case SH_OPT_COUNT:
		return "N";
	case SH_OPT_LIST:
		return "LIST";
	case SH_OPT_STRING:
		return "VALUE";
	default:
		return "";
	}
}

static char *keep(sh_opts *o, const char *s)
{
	char *d = strdup(s);
	char **n = d ? realloc(o->strs, (o->nstrs + 1) * sizeof(*n)) : NULL;
	if (!n) {
		free(d);
		return NULL;
	}
	o->strs = n;
	o->strs[o->nstrs++] = d;
	return d;
}

static int parse_bool(const char *t, int *v)
{
	static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(t, yes[i])) {
			*v = 1;
			return 0;
		}
		if (!strcmp(t, no[i])) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

int sh_opt_parse_value(const sh_opt *opt, const char *t, void *dst, char *err, size_t errlen)
{
	switch (opt->type) {
	case SH_OPT_BOOL:
		if (parse_bool(t, dst)) {
			snprintf(err, errlen, "invalid --%s '%s' (want true or false)", opt->name, t);
			return -1;
		}
		break;
	case SH_OPT_STRING:
	case SH_OPT_LIST:
		if (opt->type == SH_OPT_LIST && (!*t || *t == ',' || t[strlen(t) - 1] == ',' || strstr(t, ",,"))) {
			snprintf(err, errlen, "invalid --%s '%s' (want a comma list without empty items)", opt->name, t);
			return -1;
		}
		*(const char **)dst = t;
		break;
	case SH_OPT_DURATION: {
		int64_t ms;
		if (sh_parse_duration_ms(t, &ms) || ms < opt->min) {
			char m[40] = "";
			if (opt->min > 0)
				snprintf(m, sizeof(m), ", at least %lldms", (long long)opt->min);
			snprintf(err, errlen, "invalid --%s '%s' (want a duration like 500ms, 3s or 2m%s)", opt->name, t, m);
			return -1;
		}
		*(int64_t *)dst = ms;
		break;
	}
	case SH_OPT_COUNT: {
		int64_t v;
		if (sh_parse_i64(t, &v) || v < opt->min) {
			snprintf(err, errlen, "invalid --%s '%s' (want a whole number, at least %lld)", opt->name, t,
				 (long long)opt->min);
			return -1;
		}
		*(int64_t *)dst = v;
		break;
	}
	default:
		snprintf(err, errlen, "option --%s has no type", opt->name);
		return -1;
	}
	if (opt->check && opt->check(dst, err, errlen))
		return -1;
	return 0;
}

/* parse t into base+off; strings are copied into the arena */
static int set(sh_opts *o, const sh_opt *opt, void *base, const char *t, char *err, size_t errlen)
{
	void *dst = (char *)base + opt->off;
	if (opt->type == SH_OPT_STRING || opt->type == SH_OPT_LIST) {
		const char *tmp;
		if (sh_opt_parse_value(opt, t, &tmp, err, errlen))
			return -1;
		char *k = keep(o, t);
		if (!k) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		*(const char **)dst = k;
		return 0;
	}
	return sh_opt_parse_value(opt, t, dst, err, errlen);
}

static const sh_opt *find(const sh_opts *o, const char *name, size_t *g, size_t *i)
{
	for (size_t a = 0; a < o->ngroups; a++)
		for (size_t b = 0; o->groups[a].opts[b].name; b++)
			if (!strcmp(o->groups[a].opts[b].name, name)) {
				*g = a;
				*i = b;
				return &o->groups[a].opts[b];
			}
	return NULL;
}

static void trim(char **s)
{
	char *p = *s + strspn(*s, " \t");
	size_t n = strlen(p);
	while (n && strchr(" \t\r\n", p[n - 1]))
		p[--n] = '\0';
	*s = p;
}

/*
 * Read the config file into bases[g] (copies of, or the real, group structs).
 * reload: only reloadable options not set by env or flag; others are checked
 * for a change and reported. Returns 0, or -1 with err.
 */
static int read_config(sh_opts *o, void **bases, int reload, char *err, size_t errlen, char *note, size_t notelen)
{
	FILE *f = fopen(o->config_path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read --config '%s': %s", o->config_path, strerror(errno));
		return -1;
	}
	char line[1024];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "--config '%s' line %d: line too long", o->config_path, lineno);
			rc = -1;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *p = line;
		trim(&p);
		if (!*p)
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errlen, "--config '%s' line %d: want name = value", o->config_path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *name = p, *val = eq + 1;
		trim(&name);
		trim(&val);
		size_t g, i;
		const sh_opt *opt = find(o, name, &g, &i);
		if (!opt) {
			snprintf(err, errlen, "--config '%s' line %d: unknown option '%s'", o->config_path, lineno, name);
			rc = -1;
			break;
		}
		char e2[300];
		if (!reload) {
			if (set(o, opt, bases[g], val, e2, sizeof(e2))) {
				snprintf(err, errlen, "--config '%s' line %d: %s", o->config_path, lineno, e2);
				rc = -1;
				break;
			}
			o->src[g][i] = 1;
			continue;
		}
		/* reload: validate every line; apply what may change */
		union {
			int b;
			int64_t n;
			const char *s;
		} v;
		if (sh_opt_parse_value(opt, val, &v, e2, sizeof(e2))) {
			snprintf(err, errlen, "--config '%s' line %d: %s", o->config_path, lineno, e2);
			rc = -1;
			break;
		}
		if (o->src[g][i] >= 2)
			continue; /* a flag or the environment set it: they win */
		if (!(opt->flags & SH_OPT_RELOAD)) {
			const void *cur = (const char *)o->groups[g].base + opt->off;
			int same = opt->type == SH_OPT_BOOL		? *(const int *)cur == v.b
				   : opt->type == SH_OPT_DURATION || opt->type == SH_OPT_COUNT ? *(const int64_t *)cur == v.n
				   : *(const char *const *)cur && !strcmp(*(const char *const *)cur, v.s);
			if (!same && note && strlen(note) + 80 < notelen)
				snprintf(note + strlen(note), notelen - strlen(note), "%s--%s needs a restart",
					 *note ? ", " : "", opt->name);
			continue;
		}
		if (set(o, opt, bases[g], val, e2, sizeof(e2))) {
			snprintf(err, errlen, "--config '%s' line %d: %s", o->config_path, lineno, e2);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void print_value(const sh_opt *opt, const void *base, FILE *f)
{
	const void *v = (const char *)base + opt->off;
	if (opt->flags & SH_OPT_SECRET) {
		fputs(*(const char *const *)v ? "<set>" : "", f);
		return;
	}
	switch (opt->type) {
	case SH_OPT_BOOL:
		fputs(*(const int *)v ? "true" : "false", f);
		break;
	case SH_OPT_DURATION:
		fprintf(f, "%lldms", (long long)*(const int64_t *)v);
		break;
	case SH_OPT_COUNT:
		fprintf(f, "%lld", (long long)*(const int64_t *)v);
		break;
	default:
		fputs(*(const char *const *)v ? *(const char *const *)v : "", f);
	}
}

void sh_opts_help(const sh_opts *o, FILE *f)
{
	const char *syn = o->synopsis ? o->synopsis : "[options]";
	const char *p = syn;
	int first = 1;
	while (*p) {
		size_t n = strcspn(p, "\n");
		fprintf(f, "%s %s %.*s\n", first ? "usage:" : "   or:", o->prog, (int)n, p);
		first = 0;
		p += n + (p[n] == '\n');
	}
	if (o->description)
		fprintf(f, "\n%s\n", o->description);
	for (size_t g = 0; g < o->ngroups; g++) {
		fprintf(f, "\n%s:\n", o->groups[g].title);
		for (const sh_opt *opt = o->groups[g].opts; opt->name; opt++) {
			char left[80];
			snprintf(left, sizeof(left), "--%s%s%s", opt->name, opt->type == SH_OPT_BOOL ? "" : " ",
				 type_arg(opt));
			fprintf(f, "  %-26s %s\n", left, opt->help);
			char extra[400] = "";
			size_t e = 0;
			if (opt->def && *opt->def)
				e += (size_t)snprintf(extra + e, sizeof(extra) - e, "default %s", opt->def);
			if (opt->env)
				e += (size_t)snprintf(extra + e, sizeof(extra) - e, "%senv %s", e ? "; " : "", opt->env);
			if (opt->flags & SH_OPT_RELOAD)
				e += (size_t)snprintf(extra + e, sizeof(extra) - e, "%sreloaded on SIGHUP", e ? "; " : "");
			if (e)
				fprintf(f, "  %-26s (%s)\n", "", extra);
		}
	}
	fprintf(f, "\nother:\n  %-26s %s\n  %-26s %s\n  %-26s %s\n  %-26s %s\n", "--config FILE",
		"read 'name = value' lines (the long option names) at start and on SIGHUP", "--print-config",
		"print every option's effective value and its source, then exit", "--help", "this text",
		"--version", "print the version");
	if (o->footer)
		fprintf(f, "\n%s", o->footer);
}

static void print_config(const sh_opts *o, FILE *f)
{
	static const char *srcname[] = {"default", "config", "env", "flag"};
	static const char *typename[] = {"", "bool", "string", "duration", "count", "list"};
	for (size_t g = 0; g < o->ngroups; g++)
		for (size_t i = 0; o->groups[g].opts[i].name; i++) {
			fprintf(f, "%s=", o->groups[g].opts[i].name);
			print_value(&o->groups[g].opts[i], o->groups[g].base, f);
			fprintf(f, "\t# %s %s%s\n", srcname[o->src[g][i]], typename[o->groups[g].opts[i].type],
				(o->groups[g].opts[i].flags & SH_OPT_RELOAD) ? " reloadable" : "");
		}
}

static int usage(const sh_opts *o, const char *msg)
{
	return sh_usage_error(o->prog, "%s", msg);
}

enum { ID_CONFIG = 1, ID_HELP, ID_VERSION, ID_PRINT, ID_BASE = 100 };

int sh_opts_parse(sh_opts *o, int argc, char **argv, int *argi)
{
	char err[512];
	size_t total = 0;
	o->src = calloc(o->ngroups ? o->ngroups : 1, sizeof(*o->src));
	if (!o->src)
		return usage(o, "out of memory");
	for (size_t g = 0; g < o->ngroups; g++) {
		size_t n = table_len(o->groups[g].opts);
		total += n;
		o->src[g] = calloc(n ? n : 1, 1);
		if (!o->src[g])
			return usage(o, "out of memory");
	}
	/* defaults */
	for (size_t g = 0; g < o->ngroups; g++)
		for (const sh_opt *opt = o->groups[g].opts; opt->name; opt++)
			if (opt->def && set(o, opt, o->groups[g].base, opt->def, err, sizeof(err))) {
				fprintf(stderr, "%s: bad default: %s\n", o->prog, err);
				return SH_OPTS_USAGE;
			}
	/* getopt table: every option, then ours */
	struct option *lo = calloc(total + 5, sizeof(*lo));
	const sh_opt **byid = calloc(total + 1, sizeof(*byid));
	size_t *gid = calloc(total + 1, sizeof(*gid)), *iid = calloc(total + 1, sizeof(*iid));
	if (!lo || !byid || !gid || !iid) {
		free(lo);
		free(byid);
		free(gid);
		free(iid);
		return usage(o, "out of memory");
	}
	size_t k = 0;
	for (size_t g = 0; g < o->ngroups; g++)
		for (size_t i = 0; o->groups[g].opts[i].name; i++, k++) {
			const sh_opt *opt = &o->groups[g].opts[i];
			lo[k] = (struct option){opt->name, opt->type == SH_OPT_BOOL ? optional_argument : required_argument,
						NULL, (int)(ID_BASE + k)};
			byid[k] = opt;
			gid[k] = g;
			iid[k] = i;
		}
	lo[k++] = (struct option){"config", required_argument, NULL, ID_CONFIG};
	lo[k++] = (struct option){"help", no_argument, NULL, ID_HELP};
	lo[k++] = (struct option){"version", no_argument, NULL, ID_VERSION};
	lo[k++] = (struct option){"print-config", no_argument, NULL, ID_PRINT};
	int rc = 0, want = 0, c;
	/* pass 1: --config, --help, --version (they change what the rest means) */
	opterr = 0;
	optind = 0; /* glibc: a full re-initialisation, argv may have been permuted */
	while ((c = getopt_long(argc, argv, o->permute ? ":" : "+:", lo, NULL)) != -1) {
		if (c == ID_CONFIG)
			o->config_path = optarg;
		else if (c == ID_HELP && !want)
			want = ID_HELP;
		else if (c == ID_VERSION && !want)
			want = ID_VERSION;
		else if (c == ID_PRINT)
			want = want ? want : ID_PRINT;
	}
	if (want == ID_HELP) {
		sh_opts_help(o, stdout);
		rc = SH_OPTS_EXIT;
		goto out;
	}
	if (want == ID_VERSION) {
		printf("%s %s\n", o->prog, SWARMHEAL_VERSION);
		rc = SH_OPTS_EXIT;
		goto out;
	}
	void **bases = calloc(o->ngroups ? o->ngroups : 1, sizeof(void *));
	if (!bases) {
		rc = usage(o, "out of memory");
		goto out;
	}
	for (size_t g = 0; g < o->ngroups; g++)
		bases[g] = o->groups[g].base;
	if (o->config_path && read_config(o, bases, 0, err, sizeof(err), NULL, 0)) {
		free(bases);
		rc = usage(o, err);
		goto out;
	}
	free(bases);
	/* environment */
	for (size_t g = 0; g < o->ngroups && !rc; g++)
		for (size_t i = 0; o->groups[g].opts[i].name && !rc; i++) {
			const sh_opt *opt = &o->groups[g].opts[i];
			if (!opt->env)
				continue;
			char names[200];
			snprintf(names, sizeof(names), "%s", opt->env);
			char *save = NULL;
			for (char *nm = strtok_r(names, ",", &save); nm; nm = strtok_r(NULL, ",", &save)) {
				const char *v = getenv(nm);
				if (!v || !*v)
					continue;
				if (set(o, opt, o->groups[g].base, v, err, sizeof(err))) {
					char m[700];
					snprintf(m, sizeof(m), "environment %s: %s", nm, err);
					rc = usage(o, m);
				}
				o->src[g][i] = 2;
				break;
			}
		}
	if (rc)
		goto out;
	/* pass 2: flags */
	optind = 0; /* glibc: a full re-initialisation, argv may have been permuted */
	while ((c = getopt_long(argc, argv, o->permute ? ":" : "+:", lo, NULL)) != -1) {
		if (c == ':') {
			snprintf(err, sizeof(err), "option '%s' needs a value", argv[optind - 1]);
			rc = usage(o, err);
			break;
		}
		if (c == '?') {
			snprintf(err, sizeof(err), "unknown option '%s'", argv[optind - 1]);
			rc = usage(o, err);
			break;
		}
		if (c < ID_BASE)
			continue;
		size_t id = (size_t)(c - ID_BASE);
		const sh_opt *opt = byid[id];
		const char *val = optarg ? optarg : "true";
		if (set(o, opt, o->groups[gid[id]].base, val, err, sizeof(err))) {
			rc = usage(o, err);
			break;
		}
		o->src[gid[id]][iid[id]] = 3;
	}
	if (!rc && want == ID_PRINT) {
		print_config(o, stdout);
		rc = SH_OPTS_EXIT;
	}
	if (argi)
		*argi = optind;
out:
	free(lo);
	free(byid);
	free(gid);
	free(iid);
	return rc;
}

int sh_opts_reload(sh_opts *o, char *err, size_t errlen)
{
	if (!o->config_path) {
		snprintf(err, errlen, "no --config file to reload");
		return -1;
	}
	void **copies = calloc(o->ngroups ? o->ngroups : 1, sizeof(void *));
	int rc = copies ? 0 : -1;
	err[0] = '\0';
	for (size_t g = 0; g < o->ngroups && !rc; g++) {
		copies[g] = malloc(o->groups[g].size ? o->groups[g].size : 1);
		if (!copies[g])
			rc = -1;
		else
			memcpy(copies[g], o->groups[g].base, o->groups[g].size);
	}
	/* a reloadable key removed from the file goes back to its default */
	for (size_t g = 0; g < o->ngroups && !rc; g++)
		for (size_t i = 0; o->groups[g].opts[i].name; i++) {
			const sh_opt *opt = &o->groups[g].opts[i];
			if (!(opt->flags & SH_OPT_RELOAD) || o->src[g][i] >= 2)
				continue;
			if (opt->def)
				rc = set(o, opt, copies[g], opt->def, err, errlen);
			else
				memset((char *)copies[g] + opt->off, 0,
				       opt->type == SH_OPT_BOOL ? sizeof(int)
				       : opt->type == SH_OPT_DURATION || opt->type == SH_OPT_COUNT ? sizeof(int64_t)
												    : sizeof(char *));
			if (rc)
				break;
		}
	char note[400] = "";
	if (rc && !err[0])
		snprintf(err, errlen, "out of memory");
	else
		rc = read_config(o, copies, 1, err, errlen, note, sizeof(note));
	if (!rc) {
		for (size_t g = 0; g < o->ngroups; g++)
			memcpy(o->groups[g].base, copies[g], o->groups[g].size);
		snprintf(err, errlen, "%s", note);
	}
	for (size_t g = 0; copies && g < o->ngroups; g++)
		free(copies[g]);
	free(copies);
	return rc;
}

void sh_opts_release(sh_opts *o)
{
	for (size_t i = 0; i < o->nstrs; i++)
		free(o->strs[i]);
	free(o->strs);
	o->strs = NULL;
	o->nstrs = 0;
	for (size_t g = 0; o->src && g < o->ngroups; g++)
		free(o->src[g]);
	free(o->src);
	o->src = NULL;
}
