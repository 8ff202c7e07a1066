/* SPDX-License-Identifier: MIT */
/* cli_out.c - swarmhealctl's output: aligned tables (table, wide), describe, json, yaml (libyaml), jsonpath */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli.h"
#include "sh_util.h"

int cli_parse_output(const char *s, enum cli_fmt *fmt, const char **jsonpath)
{
	static const struct {
		const char *name;
		enum cli_fmt f;
	} names[] = {{"table", CLI_TABLE}, {"wide", CLI_WIDE}, {"json", CLI_JSON}, {"yaml", CLI_YAML}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*fmt = names[i].f;
			return 0;
		}
	if (!strncmp(s, "jsonpath=", 9) && s[9]) {
		*fmt = CLI_JSONPATH;
		*jsonpath = s + 9;
		return 0;
	}
	return -1;
}

void cli_age(int64_t ns, char *out, size_t len)
{
	int64_t s = ns / SH_NS_PER_S;
	if (ns < 0)
		s = 0;
	if (s < 120)
		snprintf(out, len, "%llds", (long long)s);
	else if (s < 600)
		snprintf(out, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 3 * 3600)
		snprintf(out, len, "%lldm", (long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(out, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, len, "%lldd", (long long)(s / 86400));
}

/* ---- tables ---- */

enum colfmt {
	F_STR,     /* text as is; numbers as integers */
	F_AGE_S,   /* seconds -> "45s" */
	F_AGO,     /* RFC 3339 -> age counted from the view's time */
	F_YESNO,   /* bool -> yes/no */
	F_STAR,    /* bool -> "*" or "" */
	F_BYTES,   /* bytes -> "1.2 MiB" */
	F_PCT,     /* number -> "12.5%" */
	F_LIST,    /* array of strings -> comma list */
	F_ACTION,  /* action object -> "KIND TARGET RESULT (AGE ago)" */
	F_DATE,    /* RFC 3339 -> the date part "2026-12-01" (wide: whole) */
};

typedef struct col {
	const char *head;
	const char *path; /* dotted member path in an item */
	enum colfmt fmt;
	unsigned flags;
} col;
#define C_WIDE 1u  /* only in -o wide */
#define C_TRUNC 2u /* cut to 48 columns in -o table; never in wide */

static const col node_cols[] = {
	{"NAME", "name", F_STR, 0},
	{"HOSTNAME", "hostname", F_STR, 0},
	{"ZONE", "zone", F_STR, 0},
	{"MONITOR", "monitor", F_STR, 0},
	{"ENGINE", "engine", F_STR, 0},
	{"HEARTBEAT", "heartbeat_age_s", F_AGE_S, 0},
	{"SWARM", "swarm.state", F_STR, 0},
	{"AVAILABILITY", "swarm.availability", F_STR, 0},
	{"DRAIN", "drain_state", F_STR, 0},
	{"DRAINED-BY", "drained_by", F_STR, 0},
	{"REQUESTED-BY", "request.requested_by", F_STR, 0},
	{"CERT-EXPIRY", "cert_not_after", F_DATE, 0},
	{"ADDR", "addr", F_STR, C_WIDE},
	{"RUNS-AS", "runs_as", F_STR, C_WIDE},
	{"ROLE", "swarm.role", F_STR, C_WIDE},
	{"REQUEST", "request.reason", F_STR, C_WIDE},
	{"WHY", "monitor_reason", F_STR, C_WIDE},
	{"DRAIN-REASON", "drain_reason", F_STR, C_WIDE},
	{0},
};
static const col election_cols[] = {
	{"NAME", "name", F_STR, 0},
	{"LEADER", "leader", F_STR, 0},
	{"FENCE", "fence", F_STR, 0},
	{"CANDIDATES", "candidates", F_STR, 0},
	{"STANDBYS", "standbys", F_LIST, C_TRUNC},
	{"LEASE", "lease", F_STR, C_WIDE},
	{"KEY", "leader_key", F_STR, C_WIDE},
	{0},
};
static const col controller_cols[] = {
	{"CONTROLLER", "name", F_STR, 0},
	{"LEADER", "leader", F_STR, 0},
	{"FENCE", "fence", F_STR, 0},
	{"STANDBYS", "standbys", F_LIST, 0},
	{"LAST ACTION", "last_action", F_ACTION, C_TRUNC},
	{0},
};
static const col cert_cols[] = {
	{"NAME", "name", F_STR, 0},
	{"STATE", "state", F_STR, 0},
	{"NOT-AFTER", "not_after", F_DATE, 0},
	{"DAYS-LEFT", "days_left", F_STR, 0},
	{"NEXT-RENEWAL", "next_renewal", F_DATE, 0},
	{"LAST-ERROR", "last_error", F_STR, C_TRUNC},
	{"COMMON-NAME", "common_name", F_STR, C_WIDE},
	{"SERIAL", "serial", F_STR, C_WIDE},
	{"FAILURES", "failures", F_STR, C_WIDE},
	{0},
};
static const col action_cols[] = {
	{"AGE", "ts", F_AGO, 0},
	{"CONTROLLER", "controller", F_STR, 0},
	{"KIND", "kind", F_STR, 0},
	{"TARGET", "target", F_STR, 0},
	{"RESULT", "result", F_STR, C_TRUNC},
	{"REASON", "reason", F_STR, C_TRUNC},
	{"TIME", "ts", F_STR, C_WIDE},
	{"NODE", "node", F_STR, C_WIDE},
	{"FENCE", "fence", F_STR, C_WIDE},
	{0},
};
static const col service_cols[] = {
	{"SERVICE", "name", F_STR, 0},
	{"STATE", "state", F_STR, 0},
	{"SNAPSHOTS", "snapshots", F_STR, 0},
	{"VERSION", "latest_version", F_STR, 0},
	{"HEALTHY", "latest_healthy", F_YESNO, 0},
	{"LAST ACTION", "last_action", F_ACTION, C_TRUNC},
	{"DIGEST-OK", "digest_ok", F_YESNO, C_WIDE},
	{"SNAPSHOT-TIME", "latest_ts", F_STR, C_WIDE},
	{0},
};
static const col endpoint_cols[] = {
	{"ETCD ENDPOINT", "endpoint", F_STR, 0},
	{"REACHABLE", "reachable", F_YESNO, 0},
	{"VERSION", "version", F_STR, 0},
	{"LEADER", "leader", F_STAR, 0},
	{"DB SIZE", "db_size", F_BYTES, 0},
	{"QUOTA USE", "quota_use_pct", F_PCT, 0},
	{"MEMBER", "member_id", F_STR, C_WIDE},
	{"ERROR", "error", F_STR, C_TRUNC},
	{0},
};
static const col arbiter_cols[] = {
	{"ARBITER MODE", "mode", F_STR, 0},
	{"SINCE", "since", F_AGO, 0},
	{"ZONES", "zones", F_LIST, 0},
	{"REASON", "reason", F_STR, C_TRUNC},
	{"RECORD", "record", F_STR, C_WIDE},
	{0},
};
static const col needs_cols[] = {
	{"NEEDS A PERSON", "what", F_STR, 0},
	{"NAME", "name", F_STR, 0},
	{"WHY", "why", F_STR, C_TRUNC},
	{0},
};

static const cJSON *get_path(const cJSON *item, const char *path)
{
	char part[64];
	const cJSON *v = item;
	while (v && *path) {
		size_t n = strcspn(path, ".");
		snprintf(part, sizeof(part), "%.*s", (int)(n < sizeof(part) - 1 ? n : sizeof(part) - 1), path);
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, part) : NULL;
		path += n + (path[n] == '.');
	}
	return v;
}

static void cell_text(const cJSON *v, const col *c, int64_t now_ns, int wide, char *out, size_t len)
{
	snprintf(out, len, "-");
	if (!v || cJSON_IsNull(v))
		return;
	char t[64];
	int64_t ns;
	switch (c->fmt) {
	case F_AGE_S:
		if (cJSON_IsNumber(v))
			cli_age((int64_t)(v->valuedouble * 1e9), out, len);
		return;
	case F_AGO:
		if (cJSON_IsString(v) && !sh_parse_rfc3339(v->valuestring, &ns))
			cli_age(now_ns - ns, out, len);
		return;
	case F_DATE:
		if (cJSON_IsString(v))
			snprintf(out, len, "%.*s", wide ? (int)strlen(v->valuestring) : 10, v->valuestring);
		return;
	case F_YESNO:
		if (cJSON_IsBool(v))
			snprintf(out, len, "%s", cJSON_IsTrue(v) ? "yes" : "no");
		return;
	case F_STAR:
		if (cJSON_IsBool(v))
			snprintf(out, len, "%s", cJSON_IsTrue(v) ? "*" : "");
		return;
	case F_BYTES:
		if (cJSON_IsNumber(v)) {
			double b = v->valuedouble;
			if (b < 1024)
				snprintf(out, len, "%.0f B", b);
			else if (b < 1024 * 1024)
				snprintf(out, len, "%.1f KiB", b / 1024);
			else if (b < 1024.0 * 1024 * 1024)
				snprintf(out, len, "%.1f MiB", b / 1024 / 1024);
			else
				snprintf(out, len, "%.2f GiB", b / 1024 / 1024 / 1024);
		}
		return;
	case F_PCT:
		if (cJSON_IsNumber(v))
			snprintf(out, len, "%.1f%%", v->valuedouble);
		return;
	case F_LIST: {
		size_t o = 0;
		const cJSON *it;
		out[0] = '\0';
		cJSON_ArrayForEach(it, v)
		{
			if (cJSON_IsString(it) && o + 2 < len)
				o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : "", it->valuestring);
		}
		if (!o)
			snprintf(out, len, "-");
		return;
	}
	case F_ACTION: {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "kind"),
			    *tg = cJSON_GetObjectItemCaseSensitive(v, "target"),
			    *r = cJSON_GetObjectItemCaseSensitive(v, "result"),
			    *ts = cJSON_GetObjectItemCaseSensitive(v, "ts");
		t[0] = '\0';
		if (cJSON_IsString(ts) && !sh_parse_rfc3339(ts->valuestring, &ns))
			cli_age(now_ns - ns, t, sizeof(t));
		snprintf(out, len, "%s %s %s (%s ago)", cJSON_IsString(k) ? k->valuestring : "?",
			 cJSON_IsString(tg) ? tg->valuestring : "?", cJSON_IsString(r) ? r->valuestring : "?", t);
		return;
	}
	case F_STR:
		break;
	}
	if (cJSON_IsString(v))
		snprintf(out, len, "%s", *v->valuestring ? v->valuestring : "-");
	else if (cJSON_IsBool(v))
		snprintf(out, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNumber(v))
		snprintf(out, len, "%.15g", v->valuedouble);
}

/* Colour of a cell (ANSI SGR) or NULL: bad red, doubtful yellow, fine green. */
static const char *cell_color(const char *head, const char *text)
{
	static const struct {
		const char *head, *text, *sgr;
	} rules[] = {
		{"MONITOR", "monitored", "32"}, {"MONITOR", "dead", "31"},      {"MONITOR", "suspect", "33"},
		{"MONITOR", "unmonitored", "33"}, {"ENGINE", "down", "31"},     {"ENGINE", "slow", "33"},
		{"REACHABLE", "no", "31"},      {"STATE", "paused", "31"},      {"STATE", "expired", "31"},
		{"STATE", "renewal-due", "31"}, {"STATE", "bad-spec", "31"},    {"STATE", "failing", "33"},
		{"STATE", "rolling-back", "33"}, {"STATE", "ok", "32"},         {"ARBITER MODE", "read-only", "31"},
		{"ARBITER MODE", "single-zone", "33"}, {"ARBITER MODE", "normal", "32"}, {"LEADER", "-", "31"},
		{"NEEDS A PERSON", NULL, "31"}, {"SWARM", "down", "31"},        {"SWARM", "ready", "32"},
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!strcmp(rules[i].head, head) && (!rules[i].text || !strcmp(rules[i].text, text)))
			return rules[i].sgr;
	if (!strcmp(head, "RESULT") && (!strncmp(text, "failed", 6) || !strncmp(text, "refused", 7)))
		return "33";
	return NULL;
}

/* Display width of UTF-8 text (code points; every character swarmheal prints is one column). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

#define TRUNC_COLS 48

static void print_table(cli_ctx *c, const cJSON *items, const col *cols, int64_t now_ns)
{
	col renamed[32];
	if (c->first_head) { /* a section of get status names its first column ("NODE" for "NAME") */
		size_t k;
		for (k = 0; cols[k].head && k < 31; k++)
			renamed[k] = cols[k];
		renamed[k] = (col){0};
		renamed[0].head = c->first_head;
		cols = renamed;
		c->first_head = NULL;
	}
	int wide = c->fmt == CLI_WIDE;
	size_t ncol = 0, nrow = (size_t)cJSON_GetArraySize(items);
	const col *use[32];
	for (const col *k = cols; k->head && ncol < 32; k++)
		if (wide || !(k->flags & C_WIDE))
			use[ncol++] = k;
	char ***cell = calloc(nrow + 1, sizeof(char **));
	size_t w[32] = {0};
	if (!cell)
		return;
	for (size_t j = 0; j < ncol; j++)
		w[j] = width(use[j]->head);
	const cJSON *it;
	size_t r = 0;
	cJSON_ArrayForEach(it, items)
	{
		cell[r] = calloc(ncol, sizeof(char *));
		for (size_t j = 0; cell[r] && j < ncol; j++) {
			char buf[4096];
			cell_text(get_path(it, use[j]->path), use[j], now_ns, wide, buf, sizeof(buf));
			for (char *p = buf; *p; p++)
				if (*p == '\n' || *p == '\t')
					*p = ' ';
			if (!wide && (use[j]->flags & C_TRUNC) && width(buf) > TRUNC_COLS) {
				size_t cut = 0, cols_seen = 0;
				while (buf[cut] && cols_seen < TRUNC_COLS - 1)
					cols_seen += ((unsigned char)buf[++cut] & 0xC0) != 0x80;
				snprintf(buf + cut, sizeof(buf) - cut, "…");
			}
			cell[r][j] = strdup(buf);
			size_t cw = width(buf);
			if (cw > w[j])
				w[j] = cw;
		}
		r++;
	}
	for (size_t j = 0; j < ncol; j++)
		fprintf(c->out, "%s%*s", use[j]->head, j + 1 < ncol ? (int)(w[j] - width(use[j]->head) + 2) : 0, "");
	fputc('\n', c->out);
	for (r = 0; r < nrow; r++) {
		for (size_t j = 0; cell[r] && j < ncol; j++) {
			const char *t = cell[r][j] ? cell[r][j] : "";
			const char *sgr = c->color ? cell_color(use[j]->head, t) : NULL;
			if (sgr)
				fprintf(c->out, "\033[%sm%s\033[0m", sgr, t);
			else
				fputs(t, c->out);
			if (j + 1 < ncol)
				fprintf(c->out, "%*s", (int)(w[j] - width(t) + 2), "");
			free(cell[r][j]);
		}
		free(cell[r]);
		fputc('\n', c->out);
	}
	free(cell);
}

static int64_t view_time(const cJSON *v)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "time");
	int64_t ns;
	if (cJSON_IsString(t) && !sh_parse_rfc3339(t->valuestring, &ns))
		return ns;
	return sh_real_ns();
}

static void section(cli_ctx *c, const cJSON *v, const char *member, const col *cols, const char *none, int64_t now)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, member);
	if (cJSON_GetArraySize(a) > 0)
		print_table(c, a, cols, now);
	else if (none)
		fprintf(c->out, "%s\n", none);
}

static void print_status(cli_ctx *c, const cJSON *v, int64_t now)
{
	section(c, v, "etcd", endpoint_cols, "no etcd endpoints", now);
	fputc('\n', c->out);
	section(c, v, "controllers", controller_cols, "CONTROLLER: none expected (--controllers) or campaigning", now);
	fputc('\n', c->out);
	cJSON *arb = cJSON_CreateArray();
	cJSON_AddItemReferenceToArray(arb, cJSON_GetObjectItemCaseSensitive(v, "arbiter"));
	print_table(c, arb, arbiter_cols, now);
	cJSON_Delete(arb);
	fputc('\n', c->out);
	const cJSON *swe = cJSON_GetObjectItemCaseSensitive(v, "swarm_error");
	if (cJSON_IsString(swe))
		fprintf(c->out, "Swarm: %s (nodes as the agents and the drain controller recorded them)\n",
			swe->valuestring);
	c->first_head = "NODE";
	section(c, v, "nodes", node_cols, "NODE: none (no heartbeat, drain record or Swarm node)", now);
	c->first_head = NULL;
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "services"))) {
		fputc('\n', c->out);
		section(c, v, "services", service_cols, NULL, now);
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "certs"))) {
		fputc('\n', c->out);
		c->first_head = "CERT";
		section(c, v, "certs", cert_cols, NULL, now);
		c->first_head = NULL;
	}
	fputc('\n', c->out);
	section(c, v, "actions", action_cols, "ACTIONS: none recorded", now);
	fputc('\n', c->out);
	const cJSON *needs = cJSON_GetObjectItemCaseSensitive(v, "needs_person");
	if (cJSON_GetArraySize(needs))
		print_table(c, needs, needs_cols, now);
	else
		fprintf(c->out, "%sNothing needs a person.%s\n", c->color ? "\033[32m" : "", c->color ? "\033[0m" : "");
}

/* ---- describe: "Key:  value" lines, nested objects indented, arrays of objects as tables ---- */

static void title(const char *key, char *out, size_t len)
{
	size_t o = 0;
	int up = 1;
	for (const char *p = key; *p && o + 1 < len; p++) {
		if (*p == '_') {
			out[o++] = ' ';
			up = 1;
			continue;
		}
		out[o++] = up ? (char)toupper((unsigned char)*p) : *p;
		up = 0;
	}
	out[o] = '\0';
}

static void describe(cli_ctx *c, const cJSON *obj, int indent, int64_t now)
{
	size_t kw = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, obj)
	{
		size_t n = strlen(m->string) + 1;
		if (n > kw)
			kw = n;
	}
	cJSON_ArrayForEach(m, obj)
	{
		char t[128];
		title(m->string, t, sizeof(t));
		if (!indent && (!strcmp(m->string, "kind") || !strcmp(m->string, "time")))
			continue; /* the view's own kind and time, not an action's */
		if (cJSON_IsObject(m)) {
			fprintf(c->out, "%*s%s:\n", indent, "", t);
			describe(c, m, indent + 2, now);
			continue;
		}
		if (cJSON_IsArray(m) && cJSON_IsObject(cJSON_GetArrayItem(m, 0))) {
			/* columns: the scalar members of the first item */
			col cols[16];
			size_t k = 0;
			char heads[16][64];
			const cJSON *f;
			cJSON_ArrayForEach(f, cJSON_GetArrayItem(m, 0))
			{
				if (k >= 15 || cJSON_IsObject(f) || cJSON_IsArray(f) || !strcmp(f->string, "key"))
					continue;
				title(f->string, heads[k], sizeof(heads[k]));
				for (char *p = heads[k]; *p; p++)
					*p = *p == ' ' ? '-' : (char)toupper((unsigned char)*p);
				cols[k] = (col){heads[k], f->string, F_STR, 0};
				k++;
			}
			cols[k] = (col){0};
			fprintf(c->out, "%*s%s:\n", indent, "", t);
			enum cli_fmt keep = c->fmt;
			c->fmt = CLI_WIDE; /* describe never truncates */
			print_table(c, m, cols, now);
			c->fmt = keep;
			continue;
		}
		char buf[4096];
		col plain = {t, "", F_STR, 0};
		if (cJSON_IsArray(m))
			plain.fmt = F_LIST;
		cell_text(m, &plain, now, 1, buf, sizeof(buf));
		fprintf(c->out, "%*s%s:%*s%s\n", indent, "", t, (int)(kw - strlen(m->string) + 1), "", buf);
	}
}

/* ---- YAML through libyaml's emitter ---- */

static int yaml_write(void *data, unsigned char *buf, size_t size)
{
	return fwrite(buf, 1, size, data) == size;
}

/*
 * A string that a YAML 1.1 reader would resolve to another type is double-quoted: the words
 * null/true/false/yes/no/on/off/y/n/~ (any case), "", and anything that starts like a number or a
 * timestamp (a digit, '.', or a sign before a digit or '.'). The emitter itself quotes what plain
 * style cannot hold (leading indicators, ": ", ...).
 */
static int needs_quotes(const char *s)
{
	static const char *const words[] = {"", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return 1;
	if (isdigit((unsigned char)s[0]) || s[0] == '.')
		return 1;
	return (s[0] == '-' || s[0] == '+') && (isdigit((unsigned char)s[1]) || s[1] == '.');
}

static int yaml_node(yaml_emitter_t *em, const cJSON *v)
{
	yaml_event_t ev;
	int ok;
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		int obj = cJSON_IsObject(v);
		ok = obj ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
			 : yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!ok || !yaml_emitter_emit(em, &ev))
			return -1;
		const cJSON *m;
		cJSON_ArrayForEach(m, v)
		{
			if (obj) {
				if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)m->string, -1, 1, 1,
								  YAML_PLAIN_SCALAR_STYLE) ||
				    !yaml_emitter_emit(em, &ev))
					return -1;
			}
			if (yaml_node(em, m))
				return -1;
		}
		ok = obj ? yaml_mapping_end_event_initialize(&ev) : yaml_sequence_end_event_initialize(&ev);
		return ok && yaml_emitter_emit(em, &ev) ? 0 : -1;
	}
	char num[64];
	const char *text;
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
	if (cJSON_IsString(v)) {
		text = v->valuestring;
		if (needs_quotes(text))
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		else
			style = YAML_ANY_SCALAR_STYLE; /* the emitter quotes what plain style cannot hold */
	} else if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%.15g", v->valuedouble);
		text = num;
	} else if (cJSON_IsBool(v)) {
		text = cJSON_IsTrue(v) ? "true" : "false";
	} else {
		text = "null";
	}
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, -1,
					  style != YAML_DOUBLE_QUOTED_SCALAR_STYLE, 1, style) ||
	    !yaml_emitter_emit(em, &ev))
		return -1;
	return 0;
}

int cli_emit_yaml(const cJSON *v, FILE *f)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&em))
		return -1;
	yaml_emitter_set_output(&em, yaml_write, f);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	int rc = -1;
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
	    !yaml_node(&em, v) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
	    yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev))
		rc = 0;
	if (rc)
		fprintf(stderr, "swarmhealctl: yaml: %s\n", em.problem ? em.problem : "emitter error");
	yaml_emitter_delete(&em);
	return rc;
}

/* ---- jsonpath (a subset) ---- */

/*
 * TEMPLATE := (text | "{" PATH "}")*, or a bare PATH. PATH := ("." NAME | "[" N "]" | "[*]" | ".*")+, or "."
 * for the whole document. NAME is [A-Za-z0-9_-]+. Each {PATH} prints its matches separated by spaces:
 * strings raw, numbers and booleans as JSON, null as nothing, objects and arrays as compact JSON.
 * {"TEXT"} and text outside braces are printed as is, with \n and \t escapes.
 */
static int jp_eval(const cJSON *v, const char *p, cJSON *acc, char *err, size_t errlen)
{
	if (!v)
		return 0;
	if (!*p) {
		cJSON_AddItemReferenceToArray(acc, (cJSON *)v);
		return 0;
	}
	if (p[0] == '.' && p[1] == '*') {
		const cJSON *m;
		cJSON_ArrayForEach(m, v) if (jp_eval(m, p + 2, acc, err, errlen)) return -1;
		return 0;
	}
	if (p[0] == '.' && (!p[1] || p[1] == '.' || p[1] == '[')) /* "." alone: the current node */
		return jp_eval(v, p + 1, acc, err, errlen);
	if (p[0] == '.') {
		size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
		if (!n) {
			snprintf(err, errlen, "jsonpath: expected a member name at '%s'", p);
			return -1;
		}
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(n < 127 ? n : 127), p + 1);
		return jp_eval(cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, name) : NULL, p + 1 + n, acc,
			       err, errlen);
	}
	if (p[0] == '[') {
		const char *close = strchr(p, ']');
		if (!close) {
			snprintf(err, errlen, "jsonpath: missing ']' in '%s'", p);
			return -1;
		}
		if (close == p + 2 && p[1] == '*') {
			const cJSON *m;
			cJSON_ArrayForEach(m, v) if (jp_eval(m, close + 1, acc, err, errlen)) return -1;
			return 0;
		}
		char num[24];
		snprintf(num, sizeof(num), "%.*s", (int)(close - p - 1 < 23 ? close - p - 1 : 23), p + 1);
		int64_t i;
		if (sh_parse_i64(num, &i)) {
			snprintf(err, errlen, "jsonpath: index '%s' is not an integer or '*'", num);
			return -1;
		}
		if (i < 0)
			i += cJSON_GetArraySize(v);
		return jp_eval(cJSON_IsArray(v) && i >= 0 ? cJSON_GetArrayItem(v, (int)i) : NULL, close + 1, acc, err,
			       errlen);
	}
	snprintf(err, errlen, "jsonpath: unexpected '%c' at '%s'", p[0], p);
	return -1;
}

static void jp_print(const cJSON *v, FILE *f)
{
	if (cJSON_IsString(v)) {
		fputs(v->valuestring, f);
	} else if (cJSON_IsNull(v)) {
		return;
	} else {
		char *t = cJSON_PrintUnformatted(v);
		if (t)
			fputs(t, f);
		free(t);
	}
}

int cli_jsonpath(const cJSON *v, const char *expr, FILE *f, char *err, size_t errlen)
{
	sh_buf out = SH_BUF_INIT;
	const char *p = expr;
	int braces = strchr(expr, '{') != NULL;
	while (*p) {
		const char *path;
		size_t plen;
		if (braces) {
			if (*p != '{') {
				if (p[0] == '\\' && (p[1] == 'n' || p[1] == 't')) {
					sh_buf_add(&out, p[1] == 'n' ? "\n" : "\t", 1);
					p += 2;
				} else {
					sh_buf_add(&out, p++, 1);
				}
				continue;
			}
			const char *close = strchr(p, '}');
			if (!close) {
				snprintf(err, errlen, "jsonpath: missing '}' in '%s'", expr);
				sh_buf_release(&out);
				return -1;
			}
			path = p + 1;
			plen = (size_t)(close - p - 1);
			p = close + 1;
		} else {
			path = p;
			plen = strlen(p);
			p += plen;
		}
		if (plen >= 2 && path[0] == '"' && path[plen - 1] == '"') { /* {"\t"}: a literal, as kubectl's */
			for (size_t k = 1; k + 1 < plen; k++) {
				if (path[k] == '\\' && k + 2 < plen && (path[k + 1] == 'n' || path[k + 1] == 't')) {
					sh_buf_add(&out, path[++k] == 'n' ? "\n" : "\t", 1);
					continue;
				}
				sh_buf_add(&out, path + k, 1);
			}
			continue;
		}
		char *one = strndup(path, plen);
		cJSON *acc = cJSON_CreateArray();
		if (!one || !acc || (one[0] != '.' && one[0] != '[') || jp_eval(v, one, acc, err, errlen)) {
			if (one && one[0] != '.' && one[0] != '[')
				snprintf(err, errlen, "jsonpath: '%s' does not start with '.' or '['", one);
			free(one);
			cJSON_Delete(acc);
			sh_buf_release(&out);
			return -1;
		}
		free(one);
		const cJSON *m;
		int first = 1;
		cJSON_ArrayForEach(m, acc)
		{
			char *buf = NULL;
			size_t blen = 0;
			FILE *mf = open_memstream(&buf, &blen);
			if (!mf)
				break;
			jp_print(m, mf);
			fclose(mf);
			if (!first)
				sh_buf_add(&out, " ", 1);
			sh_buf_add(&out, buf, blen);
			free(buf);
			first = 0;
		}
		cJSON_Delete(acc);
	}
	if (out.len)
		fwrite(out.buf, 1, out.len, f);
	if (!out.len || out.buf[out.len - 1] != '\n')
		fputc('\n', f);
	sh_buf_release(&out);
	return 0;
}

/* ---- dispatch on the view's kind ---- */

int cli_print(cli_ctx *c, const cJSON *v)
{
	if (c->fmt == CLI_JSON) {
		char *t = cJSON_Print(v);
		if (!t)
			return -1;
		/* cJSON formats with tabs (strings hold none: JSON escapes them): indent by two spaces like
		 * kubectl, one space after a colon */
		int bol = 1;
		for (const char *p = t; *p; p++) {
			if (*p == '\t')
				fputs(bol ? "  " : " ", c->out);
			else
				fputc(*p, c->out);
			bol = *p == '\n' || (bol && *p == '\t');
		}
		fputc('\n', c->out);
		free(t);
		return 0;
	}
	if (c->fmt == CLI_YAML) {
		if (c->v.watch)
			fputs("---\n", c->out); /* --watch: a stream of documents, each one marked */
		return cli_emit_yaml(v, c->out);
	}
	if (c->fmt == CLI_JSONPATH) {
		char err[300];
		if (cli_jsonpath(v, c->jsonpath, c->out, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", c->prog, err);
			return -1;
		}
		return 0;
	}
	const char *kind = cJSON_GetObjectItemCaseSensitive(v, "kind")->valuestring;
	int64_t now = view_time(v);
	static const struct {
		const char *kind;
		const col *cols;
		const char *none;
	} lists[] = {
		{"NodeList", node_cols, "No nodes found."},
		{"ElectionList", election_cols, "No elections found."},
		{"CertList", cert_cols, "No certificates found."},
		{"ActionList", action_cols, "No actions found."},
		{"ServiceList", service_cols, "No services found."},
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (!strcmp(kind, lists[i].kind)) {
			const cJSON *swe = cJSON_GetObjectItemCaseSensitive(v, "swarm_error");
			if (cJSON_IsString(swe))
				fprintf(stderr, "%s: warning: Swarm: %s\n", c->prog, swe->valuestring);
			section(c, v, "items", lists[i].cols, lists[i].none, now);
			return 0;
		}
	if (!strcmp(kind, "Status")) {
		print_status(c, v, now);
		return 0;
	}
	describe(c, v, 0, now);
	return 0;
}
