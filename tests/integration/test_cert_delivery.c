/* SPDX-License-Identifier: MIT */
/* test_cert_delivery.c - certificates delivered to a real swarm dockerd: versioned secrets read from inside a task,
 * files with a reload signal */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert_deliver.h"
#include "cert_files.h"
#include "dock.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define IMAGE "swarmheal-test-busybox"
#define DAY   (86400 * INT64_C(1000000000))

static const char *host;
static char dir[256], base[64];
static cert_ca ca;

static dock_client *client(void)
{
	dock_config cfg = {.host = host, .timeout_ms = 15000};
	dock_client *c;
	char err[256] = "";
	sh_err e = dock_client_new(&cfg, &c, err, sizeof(err));
	if (e)
		fprintf(stderr, "dock_client_new: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(e, SH_OK);
	return c;
}

/* a one-level CA (root signs) under dir */
static int make_ca(void)
{
	char why[256] = "", p[512];
	int64_t now = sh_real_ns();
	EVP_PKEY *k = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *root = k ? cert_ca_make("delivery test root", k, NULL, NULL, now, 10 * DAY, why, sizeof(why)) : NULL;
	char *cp = root ? cert_x509_pem(root) : NULL, *kp = k ? cert_key_pem(k) : NULL;
	int ok = cp && kp;
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	ok = ok && !cert_write_atomic(p, cp, strlen(cp), 0644, why, sizeof(why));
	snprintf(p, sizeof(p), "%s/ca.key", dir);
	ok = ok && !cert_write_atomic(p, kp, strlen(kp), 0600, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "make_ca: %s\n", why);
	free(cp);
	free(kp);
	X509_free(root);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static rec_cert_spec parse_spec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static rec_cert_spec parse_spec(const char *fmt, ...)
{
	char json[2048], why[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	rec_cert_spec s;
	sh_err e = rec_cert_spec_parse(json, strlen(json), &s, why, sizeof(why));
	if (e)
		fprintf(stderr, "spec: %s\n", why);
	CU_ASSERT_EQUAL(e, SH_OK);
	return s;
}

static void issue_pem(const rec_cert_spec *s, cert_pem *pem, cert_info *info)
{
	char why[512] = "";
	if (!ca.root)
		CU_ASSERT_EQUAL_FATAL(cert_ca_load(s, sh_real_ns(), &ca, why, sizeof(why)), SH_OK);
	cert_bundle b;
	CU_ASSERT_EQUAL_FATAL(cert_issue(s, &ca, sh_real_ns(), &b, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL_FATAL(cert_verify(s, &ca, &b, sh_real_ns(), 0, why, sizeof(why)), CERT_OK);
	cert_info_of(b.leaf, info);
	CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(&b, !s->files.chain[0], pem), SH_OK);
	cert_bundle_free(&b);
}

static void test_secret_api(void)
{
	dock_client *c = client();
	char name[96], id[80], id2[80];
	snprintf(name, sizeof(name), "%s-api.cert.v1", base);
	cJSON *labels = cJSON_CreateObject();
	cJSON_AddStringToObject(labels, CERT_LABEL_SERIAL, "0a");
	CU_ASSERT_EQUAL_FATAL(dock_secret_create(c, name, "hello\n", 6, labels, id, sizeof(id)), SH_OK);
	CU_ASSERT(strlen(id) > 10);
	/* secrets are immutable: the same name again is a conflict */
	CU_ASSERT_EQUAL(dock_secret_create(c, name, "other", 5, NULL, id2, sizeof(id2)), SH_E_CONFLICT);
	cJSON_Delete(labels);
	char filters[256];
	snprintf(filters, sizeof(filters), "{\"name\":[\"%s-api.\"]}", base);
	dock_secret_list l;
	CU_ASSERT_EQUAL_FATAL(dock_secrets_list(c, filters, &l), SH_OK);
	CU_ASSERT_EQUAL_FATAL(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.v[0].name, name);
	CU_ASSERT_STRING_EQUAL(l.v[0].id, id);
	CU_ASSERT_STRING_EQUAL(dock_secret_label(&l.v[0], CERT_LABEL_SERIAL), "0a");
	dock_secret_list_free(&l);
	CU_ASSERT_EQUAL(dock_secret_create(c, "bad name", "x", 1, NULL, NULL, 0), SH_E_INVAL);
	CU_ASSERT_EQUAL(dock_secret_remove(c, id), SH_OK);
	CU_ASSERT_EQUAL(dock_secret_remove(c, id), SH_E_NOT_FOUND);
	CU_ASSERT_EQUAL(dock_secrets_list(c, filters, &l), SH_OK);
	CU_ASSERT_EQUAL(l.n, 0);
	dock_secret_list_free(&l);
	dock_client_free(c);
}

/* the running task's container of a service, "" when none runs */
static void running_container(dock_client *c, const char *svc, char *out, size_t len)
{
	char f[256];
	snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", svc);
	dock_task_list l;
	out[0] = '\0';
	if (dock_tasks_list(c, f, &l))
		return;
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.v[i].state, "running") && l.v[i].container_id[0])
			snprintf(out, len, "%s", l.v[i].container_id);
	dock_task_list_free(&l);
}

/* what the task reads at /run/secrets/NAME, malloc'd ("" when it cannot) */
static char *read_in_task(const char *container, const char *name)
{
	char out[512];
	snprintf(out, sizeof(out), "%s/exec.out", dir);
	unlink(out);
	t_sh("docker -H %s exec %s cat /run/secrets/%s >%s 2>/dev/null", host, container, name, out);
	return t_read_file(out);
}

/* wait until a running task reads want at /run/secrets/name; 1 yes */
static int wait_task_reads(dock_client *c, const char *svc, const char *name, const char *want, int secs)
{
	for (int i = 0; i < secs * 4; i++) {
		char ct[80];
		running_container(c, svc, ct, sizeof(ct));
		if (ct[0]) {
			char *got = read_in_task(ct, name);
			int same = !strcmp(got, want);
			free(got);
			if (same)
				return 1;
		}
		usleep(250000);
	}
	return 0;
}

static int count_secrets(dock_client *c, const char *prefix)
{
	char filters[256];
	snprintf(filters, sizeof(filters), "{\"name\":[\"%s\"]}", prefix);
	dock_secret_list l;
	if (dock_secrets_list(c, filters, &l))
		return -1;
	int n = (int)l.n;
	dock_secret_list_free(&l);
	return n;
}

/* what the step hook heard: "planned created switched:SVC removed" */
typedef struct steps_heard {
	char seq[512];
	cert_step fail_at; /* return SH_E_NOT_LEADER at this step */
} steps_heard;

static sh_err hear_step(cert_step s, const char *object, const char *detail, void *ud)
{
	steps_heard *h = ud;
	(void)detail;
	size_t n = strlen(h->seq);
	snprintf(h->seq + n, sizeof(h->seq) - n, "%s%s%s%s", n ? " " : "", cert_step_name(s),
		 s == CERT_STEP_SWITCHED ? ":" : "", s == CERT_STEP_SWITCHED ? object : "");
	return s == h->fail_at ? SH_E_NOT_LEADER : SH_OK;
}

static void test_rotate_secrets(void)
{
	dock_client *c = client();
	char svc[96], sec[96], spec_svc[1024];
	snprintf(svc, sizeof(svc), "%s-app", base);
	snprintf(sec, sizeof(sec), "%s-tls", base);
	snprintf(spec_svc, sizeof(spec_svc),
		 "{\"Name\":\"%s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"" IMAGE
		 "\",\"Args\":[\"sleep\",\"1000\"],"
		 "\"StopGracePeriod\":1000000000},\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":100000000}},"
		 "\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"UpdateConfig\":{\"Parallelism\":0,\"Order\":\"start-"
		 "first\"}}",
		 svc);
	cJSON *sspec = cJSON_Parse(spec_svc);
	char sid[80];
	CU_ASSERT_EQUAL_FATAL(dock_service_create(c, sspec, sid, sizeof(sid)), SH_OK);
	cJSON_Delete(sspec);
	rec_cert_spec s = parse_spec("{\"common_name\":\"app\",\"dns_names\":[\"app\"],\"duration\":\"1h\","
				     "\"ca\":{\"cert_file\":\"%s/ca.pem\",\"key_file\":\"%s/ca.key\"},"
				     "\"secret\":{\"name\":\"%s\",\"services\":[\"%s\"]}}",
				     dir, dir, sec, svc);
	cert_pem p1, p2;
	cert_info i1, i2;
	issue_pem(&s, &p1, &i1);
	char why[512] = "";
	int64_t v = 0;
	/* first delivery: three secrets, the service gains them at NAME.PART */
	sh_err e = cert_deliver_secrets(c, &s, &p1, i1.serial, &v, NULL, why, sizeof(why));
	if (e)
		fprintf(stderr, "deliver: %s\n", why);
	CU_ASSERT_EQUAL_FATAL(e, SH_OK);
	CU_ASSERT_EQUAL(v, 1);
	int cur = 0;
	CU_ASSERT_EQUAL(cert_observe_secrets(c, &s, i1.serial, 1, &cur, why, sizeof(why)), SH_OK);
	CU_ASSERT_TRUE(cur);
	char target[128];
	snprintf(target, sizeof(target), "%s.cert", sec);
	CU_ASSERT_TRUE(wait_task_reads(c, svc, target, p1.cert, 60));
	snprintf(target, sizeof(target), "%s.key", sec);
	CU_ASSERT_TRUE(wait_task_reads(c, svc, target, p1.key, 10));
	/* renewal: v2 in one service update, v1 removed */
	issue_pem(&s, &p2, &i2);
	CU_ASSERT_STRING_NOT_EQUAL(i1.serial, i2.serial);
	CU_ASSERT_EQUAL(cert_observe_secrets(c, &s, i2.serial, 1, &cur, why, sizeof(why)), SH_OK);
	CU_ASSERT_FALSE(cur); /* v1 does not carry the new serial */
	/* a hook that refuses at the plan (a lost leadership): nothing is created, nothing moves */
	steps_heard h = {.fail_at = CERT_STEP_PLANNED};
	cert_step_hook hook = {hear_step, &h};
	CU_ASSERT_EQUAL(cert_deliver_secrets(c, &s, &p2, i2.serial, &v, &hook, why, sizeof(why)), SH_E_NOT_LEADER);
	CU_ASSERT_STRING_EQUAL(h.seq, "planned");
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "step 'planned'"));
	char pfx[128];
	snprintf(pfx, sizeof(pfx), "%s.", sec);
	CU_ASSERT_EQUAL(count_secrets(c, pfx), 3);
	memset(&h, 0, sizeof(h));
	int64_t t_start = sh_mono_ns();
	e = cert_deliver_secrets(c, &s, &p2, i2.serial, &v, &hook, why, sizeof(why));
	if (e)
		fprintf(stderr, "deliver: %s\n", why);
	CU_ASSERT_EQUAL_FATAL(e, SH_OK);
	CU_ASSERT_EQUAL(v, 2);
	int64_t t_delivered = sh_mono_ns();
	char want[256];
	snprintf(want, sizeof(want), "planned created switched:%s removed", svc);
	CU_ASSERT_STRING_EQUAL(h.seq, want);
	/* one update: the previous spec held all of v1, the current one all of v2 */
	dock_service ds;
	CU_ASSERT_EQUAL_FATAL(dock_service_inspect(c, sid, &ds), SH_OK);
	char *now_spec = cJSON_PrintUnformatted(ds.spec), *prev = cJSON_PrintUnformatted(ds.previous_spec);
	char name[128];
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "\"%s.%s.v2\"", sec, cert_parts[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(now_spec, name));
		snprintf(name, sizeof(name), "\"%s.%s.v1\"", sec, cert_parts[i]);
		CU_ASSERT_PTR_NULL(strstr(now_spec, name));
		CU_ASSERT_PTR_NOT_NULL(prev && strstr(prev, name));
	}
	free(now_spec);
	free(prev);
	dock_service_free(&ds);
	snprintf(target, sizeof(target), "%s.cert", sec);
	CU_ASSERT_TRUE(wait_task_reads(c, svc, target, p2.cert, 60));
	fprintf(stderr, "renewal by secrets: delivered (create 3, one service update, remove 3) in %.2f s; a task reads "
			"the new certificate %.2f s after the start\n",
		(double)(t_delivered - t_start) / 1e9, (double)(sh_mono_ns() - t_start) / 1e9);
	snprintf(name, sizeof(name), "%s.", sec);
	CU_ASSERT_EQUAL(count_secrets(c, name), 3); /* v1's three are gone */
	snprintf(name, sizeof(name), "%s.cert.v1", sec);
	CU_ASSERT_EQUAL(count_secrets(c, name), 0);
	CU_ASSERT_EQUAL(cert_observe_secrets(c, &s, i2.serial, 2, &cur, why, sizeof(why)), SH_OK);
	CU_ASSERT_TRUE(cur);
	/* delivering the same certificate again (a retry) changes nothing */
	CU_ASSERT_EQUAL(cert_deliver_secrets(c, &s, &p2, i2.serial, &v, NULL, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL(v, 2);
	snprintf(name, sizeof(name), "%s.", sec);
	CU_ASSERT_EQUAL(count_secrets(c, name), 3);
	/* a version in use cannot be removed: the engine says so */
	snprintf(name, sizeof(name), "%s.cert.v2", sec);
	CU_ASSERT_NOT_EQUAL(dock_secret_remove(c, name), SH_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(dock_errmsg(c), "in use"));
	cert_pem_free(&p1);
	cert_pem_free(&p2);
	CU_ASSERT_EQUAL(dock_service_remove(c, sid), SH_OK);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.%s.v2", sec, cert_parts[i]);
		for (int k = 0; k < 50 && dock_secret_remove(c, name) != SH_OK; k++)
			usleep(200000);
	}
	dock_client_free(c);
}

static void test_files_and_reload(void)
{
	char label[96], ctname[96];
	snprintf(label, sizeof(label), "swarmheal-test-reload=%s", base);
	snprintf(ctname, sizeof(ctname), "%s-reload", base);
	CU_ASSERT_EQUAL_FATAL(t_sh("docker -H %s run -d --name %s --label %s " IMAGE
				   " sh -c 'trap \"echo hup >>/tmp/hup\" HUP; touch /tmp/ready; "
				   "while :; do sleep 0.1; done' >/dev/null",
				   host, ctname, label),
			      0);
	/* wait until the trap is set */
	int ready = 0;
	for (int i = 0; i < 50 && !ready; i++) {
		ready = !t_sh("docker -H %s exec %s test -f /tmp/ready", host, ctname);
		if (!ready)
			usleep(100000);
	}
	CU_ASSERT_TRUE_FATAL(ready);
	t_sh("mkdir -p %s/app", dir);
	rec_cert_spec s = parse_spec("{\"common_name\":\"app\",\"ip_addresses\":[\"127.0.0.1\"],\"duration\":\"1h\","
				     "\"ca\":{\"cert_file\":\"%s/ca.pem\",\"key_file\":\"%s/ca.key\"},"
				     "\"files\":{\"cert\":\"%s/app/cert.pem\",\"chain\":\"%s/app/chain.pem\","
				     "\"key\":\"%s/app/key.pem\",\"reload_label\":\"%s\"}}",
				     dir, dir, dir, dir, dir, label);
	cert_pem p;
	cert_info info;
	issue_pem(&s, &p, &info);
	dock_client *c = client();
	char why[512] = "";
	int signalled = -1;
	sh_err e = cert_deliver_files(c, &s, &p, &signalled, why, sizeof(why));
	if (e)
		fprintf(stderr, "deliver files: %s\n", why);
	CU_ASSERT_EQUAL(e, SH_OK);
	CU_ASSERT_EQUAL(signalled, 1);
	struct stat st;
	CU_ASSERT_EQUAL(stat(s.files.key, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(stat(s.files.cert, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
	cert_info got;
	CU_ASSERT_EQUAL(cert_check_files(&s, &ca, sh_real_ns(), 0, NULL, &got, why, sizeof(why)), CERT_OK);
	CU_ASSERT_STRING_EQUAL(got.serial, info.serial);
	/* the container got SIGHUP (its trap ran), and still runs */
	int hup = 0;
	for (int i = 0; i < 50 && !hup; i++) {
		hup = !t_sh("docker -H %s exec %s grep -q hup /tmp/hup 2>/dev/null", host, ctname);
		if (!hup)
			usleep(100000);
	}
	CU_ASSERT_TRUE(hup);
	dock_container ct;
	CU_ASSERT_EQUAL(dock_container_inspect(c, ctname, &ct), SH_OK);
	CU_ASSERT_STRING_EQUAL(ct.state, "running");
	dock_container_free(&ct);
	/* nobody with the label: nothing signalled, no error */
	int n = -1;
	CU_ASSERT_EQUAL(dock_containers_kill_by_label(c, "swarmheal-test-reload=nobody", "SIGHUP", &n, NULL), SH_OK);
	CU_ASSERT_EQUAL(n, 0);
	/* a directory that does not exist: the error names the file, nothing signalled */
	rec_cert_spec bad = s;
	snprintf(bad.files.key, sizeof(bad.files.key), "%s/missing/key.pem", dir);
	CU_ASSERT_EQUAL(cert_deliver_files(c, &bad, &p, &signalled, why, sizeof(why)), SH_E_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "missing/key.pem"));
	CU_ASSERT_EQUAL(signalled, 0);
	cert_pem_free(&p);
	t_sh("docker -H %s rm -f %s >/dev/null 2>&1", host, ctname);
	dock_client_free(c);
}

int main(int argc, char **argv)
{
	host = getenv("SWARMHEAL_TEST_DOCKER_HOST");
	if (!host || !*host) {
		fprintf(stderr,
			"no private swarm dockerd (SWARMHEAL_TEST_DOCKER_HOST; tests/run.sh starts one): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	snprintf(dir, sizeof(dir), "/tmp/test_cert_delivery.%d", (int)getpid());
	snprintf(base, sizeof(base), "shc%d", (int)getpid());
	t_sh("rm -rf %s; mkdir -p %s", dir, dir);
	if (make_ca())
		return 1;
	static const t_case cases[] = {
		{"secret_api", test_secret_api},
		{"rotate_secrets", test_rotate_secrets},
		{"files_and_reload", test_files_and_reload},
		{NULL, NULL},
	};
	int rc = t_run("cert_delivery", cases, argc, argv);
	cert_ca_free(&ca);
	t_sh("rm -rf %s", dir);
	return rc;
}
