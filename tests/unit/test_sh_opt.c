/* SPDX-License-Identifier: MIT */
/* test_sh_opt.c - option tables: flags, environment, --config, precedence, generated help, reload */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sh_opt.h"
#include "tmain.h"

typedef struct cfg {
	int dry;
	const char *name;
	int64_t grace_ms, max;
	const char *list;
} cfg;

#define O(f) offsetof(cfg, f)
static const sh_opt table[] = {
	{"dry-run", SH_OPT_BOOL, O(dry), "false", NULL, "change nothing", "T_DRY", SH_OPT_RELOAD, 0, NULL},
	{"name", SH_OPT_STRING, O(name), "x", "NAME", "a name", "T_NAME", 0, 0, NULL},
	{"grace", SH_OPT_DURATION, O(grace_ms), "2s", NULL, "a grace", "T_GRACE,T_GRACE2", SH_OPT_RELOAD, 0, NULL},
	{"max", SH_OPT_COUNT, O(max), NULL, "N", "a count", NULL, SH_OPT_RELOAD, 1, NULL},
	{"list", SH_OPT_LIST, O(list), "a,b", NULL, "a list", NULL, 0, 0, NULL},
	{0},
};

static cfg c;
static sh_opt_group g[1];
static sh_opts o;

static int parse(int argc, char **argv)
{
	memset(&c, 0, sizeof(c));
	g[0] = (sh_opt_group){"test", table, &c, sizeof(c)};
	sh_opts_release(&o);
	o = (sh_opts){.prog = "t", .groups = g, .ngroups = 1};
	int argi;
	return sh_opts_parse(&o, argc, argv, &argi);
}

static void test_defaults_and_flags(void)
{
	char *a0[] = {"t", NULL};
	CU_ASSERT_EQUAL(parse(1, a0), 0);
	CU_ASSERT_EQUAL(c.dry, 0);
	CU_ASSERT_STRING_EQUAL(c.name, "x");
	CU_ASSERT_EQUAL(c.grace_ms, 2000);
	CU_ASSERT_EQUAL(c.max, 0);
	char *a1[] = {"t", "--dry-run", "--name", "y", "--grace=1m", "--max", "3", "--list", "p,q", NULL};
	CU_ASSERT_EQUAL(parse(9, a1), 0);
	CU_ASSERT_EQUAL(c.dry, 1);
	CU_ASSERT_STRING_EQUAL(c.name, "y");
	CU_ASSERT_EQUAL(c.grace_ms, 60000);
	CU_ASSERT_EQUAL(c.max, 3);
	CU_ASSERT_STRING_EQUAL(c.list, "p,q");
	char *a2[] = {"t", "--dry-run=false", NULL};
	CU_ASSERT_EQUAL(parse(2, a2), 0);
	CU_ASSERT_EQUAL(c.dry, 0);
}

static void test_bad_values(void)
{
	char *a[][3] = {{"t", "--max=0"}, {"t", "--grace=soon"}, {"t", "--list=a,,b"}, {"t", "--dry-run=maybe"},
			{"t", "--nope"}, {"t", "--name"}};
	for (size_t i = 0; i < sizeof(a) / sizeof(*a); i++)
		CU_ASSERT_EQUAL(parse(2, a[i]), SH_OPTS_USAGE);
}

static void test_precedence_file_env_flag(void)
{
	char path[] = "/tmp/t_sh_opt_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "# comment\nname = fromfile\n grace=5s  # trailing\nmax = 4\n");
	fclose(f);
	setenv("T_GRACE2", "7s", 1);
	char *a[] = {"t", "--config", path, "--max", "9", NULL};
	CU_ASSERT_EQUAL(parse(5, a), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "fromfile"); /* file over default */
	CU_ASSERT_EQUAL(c.grace_ms, 7000);          /* env over file (the second name of the list) */
	CU_ASSERT_EQUAL(c.max, 9);                  /* flag over file */
	setenv("T_GRACE", "8s", 1);
	CU_ASSERT_EQUAL(parse(5, a), 0);
	CU_ASSERT_EQUAL(c.grace_ms, 8000); /* the first env name wins */
	unsetenv("T_GRACE");
	unsetenv("T_GRACE2");
	f = fopen(path, "w");
	fprintf(f, "grace = 5s\nbogus = 1\n");
	fclose(f);
	char *b[] = {"t", "--config", path, NULL};
	CU_ASSERT_EQUAL(parse(3, b), SH_OPTS_USAGE); /* unknown key */
	unlink(path);
}

static void test_reload(void)
{
	char path[] = "/tmp/t_sh_opt_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "grace = 5s\nmax = 4\nname = a\n");
	fclose(f);
	char *a[] = {"t", "--config", path, "--max", "9", NULL};
	CU_ASSERT_EQUAL(parse(5, a), 0);
	char err[300];
	/* a bad file changes nothing */
	f = fopen(path, "w");
	fprintf(f, "grace = 1s\nmax = lots\n");
	fclose(f);
	CU_ASSERT_EQUAL(sh_opts_reload(&o, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2"));
	CU_ASSERT_EQUAL(c.grace_ms, 5000);
	/* reloadable keys change; the flag still wins; a non-reloadable change is reported, not applied;
	 * a reloadable key removed from the file goes back to its default */
	f = fopen(path, "w");
	fprintf(f, "dry-run = true\nmax = 2\nname = b\n");
	fclose(f);
	CU_ASSERT_EQUAL(sh_opts_reload(&o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.dry, 1);
	CU_ASSERT_EQUAL(c.max, 9);
	CU_ASSERT_STRING_EQUAL(c.name, "a");
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--name needs a restart"));
	CU_ASSERT_EQUAL(c.grace_ms, 2000);
	unlink(path);
}

static void test_help_lists_every_option(void)
{
	char *a0[] = {"t", NULL};
	CU_ASSERT_EQUAL(parse(1, a0), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	sh_opts_help(&o, f);
	fclose(f);
	for (const sh_opt *t = table; t->name; t++) {
		char want[80];
		snprintf(want, sizeof(want), "--%s", t->name);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
		if (t->env)
			CU_ASSERT_PTR_NOT_NULL(strstr(buf, t->env));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "reloaded on SIGHUP"));
	free(buf);
	sh_opts_release(&o);
}

int main(int argc, char **argv)
{
	static const t_case cases[] = {
		{"defaults_and_flags", test_defaults_and_flags},
		{"bad_values", test_bad_values},
		{"precedence_file_env_flag", test_precedence_file_env_flag},
		{"reload", test_reload},
		{"help_lists_every_option", test_help_lists_every_option},
		{NULL, NULL},
	};
	return t_run("sh_opt", cases, argc, argv);
}
