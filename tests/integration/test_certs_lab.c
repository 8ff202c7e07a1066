/* SPDX-License-Identifier: MIT */
/* test_certs_lab.c - swarmheald's certs controller against the lab swarm and real etcd: a short-lived certificate
 * delivered as versioned secrets to a service whose task always reads a valid chain, the leader killed
 * mid-rotation and its standby finishing, Swarm's root CA rotated */
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert_deliver.h"
#include "cert_files.h"
#include "cert_pki.h"
#include "dock.h"
#include "rec_action.h"
#include "rec_cert.h"
#include "sh_util.h"
#include "tmain.h"
#include "tsupport.h"

#define IMG "swarmheal-test-busybox"
#define S   INT64_C(1000000000)
#define DAY (86400 * S)
/* 20 s certificates entering their renewal window after 10 s: a renewal every ~10 s, with 10 s left for the
 * delivery (and, in the failover case, for the standby's takeover) before the old one expires */
#define DURATION     "20s"
#define RENEW_BEFORE "10s"

static const char *lab, *eps;
static char sock[256], prefix[96], dir[256], base[64], svc[64], spec_json[2048];
static etcd_client *ec;
static cert_ca ca;
static rec_cert_spec spec;

static int dk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int dk(const char *fmt, ...)
{
	char body[2000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	return t_sh("docker -H %s %s >/dev/null 2>&1", sock, body);
}

/* whole output of a command, malloc'd ("" on failure) */
static char *run_out(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	sh_buf b = {0};
	char chunk[4096];
	size_t n;
	if (f) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			sh_buf_add(&b, chunk, n);
		pclose(f);
	}
	sh_buf_add(&b, "", 1);
	return b.buf ? b.buf : strdup("");
}

static dock_client *client(void)
{
	dock_config cfg = {.host = sock, .timeout_ms = 15000};
	dock_client *c = NULL;
	char err[256] = "";
	if (dock_client_new(&cfg, &c, err, sizeof(err)))
		fprintf(stderr, "dock_client_new: %s\n", err);
	return c;
}

static int write_pem(const char *name, char *pem, mode_t mode)
{
	char p[512], why[256] = "";
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int ok = pem && !cert_write_atomic(p, pem, strlen(pem), mode, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "cannot write '%s': %s\n", p, why);
	free(pem);
	return ok ? 0 : -1;
}

/* a self-signed EC P-256 root valid [now - 1 min, now + life): NAME.pem and NAME.key under dir; serial out */
static int make_root(const char *name, const char *cn, int64_t life_ns, char *serial, size_t slen)
{
	char why[256] = "", f[128];
	int64_t now = sh_real_ns();
	EVP_PKEY *k = cert_key_new(REC_CERT_EC_P256, why, sizeof(why));
	X509 *root = k ? cert_ca_make(cn, k, NULL, NULL, now - 60 * S, life_ns, why, sizeof(why)) : NULL;
	int rc = root ? 0 : -1;
	if (root && serial) {
		cert_info i;
		cert_info_of(root, &i);
		snprintf(serial, slen, "%s", i.serial);
	}
	snprintf(f, sizeof(f), "%s.pem", name);
	rc = rc ? rc : write_pem(f, cert_x509_pem(root), 0644);
	snprintf(f, sizeof(f), "%s.key", name);
	rc = rc ? rc : write_pem(f, cert_key_pem(k), 0600);
	if (rc)
		fprintf(stderr, "make_root: %s\n", why);
	X509_free(root);
	EVP_PKEY_free(k);
	return rc;
}

static int status_of(rec_cert_status *st)
{
	char k[300], why[200];
	rec_cert_status_key(k, sizeof(k), prefix, base);
	etcd_kv kv;
	if (etcd_get(ec, k, &kv, NULL))
		return 0;
	int ok = rec_cert_status_parse(kv.value, kv.value_len, st, why, sizeof(why)) == SH_OK;
	etcd_kv_free(&kv);
	return ok;
}

/* ---- what the service's task reads ---- */

/*
 * One look from inside the service: every running task's container reads /run/secrets/BASE.{cert,chain,key};
 * 1 when one of them holds a bundle that verifies against the CA now (serial out), else 0 with why.
 */
static int task_reads_valid(dock_client *c, char *serial, size_t slen, char *why, size_t wlen)
{
	char f[256];
	snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", svc);
	dock_task_list l;
	snprintf(why, wlen, "no running task");
	if (dock_tasks_list(c, f, &l)) {
		snprintf(why, wlen, "task list: %s", dock_errmsg(c));
		return 0;
	}
	int ok = 0;
	for (size_t i = 0; i < l.n && !ok; i++) {
		if (strcmp(l.v[i].state, "running") || !l.v[i].container_id[0])
			continue;
		char cmd[900];
		snprintf(cmd, sizeof(cmd),
			 "docker -H %s exec %s sh -c 'cat /run/secrets/%s.cert; echo @@; cat /run/secrets/%s.chain; "
			 "echo @@; cat /run/secrets/%s.key' 2>&1",
			 sock, l.v[i].container_id, base, base, base);
		char *out = run_out(cmd), *cert = out, *chain = NULL, *key = NULL;
		char *p = strstr(cert, "\n@@\n");
		if (p) {
			p[1] = '\0';
			chain = p + 4;
			if ((p = strstr(chain, "\n@@\n"))) {
				p[1] = '\0';
				key = p + 4;
			}
		}
		cert_bundle b;
		char w[400] = "";
		if (!key) {
			snprintf(why, wlen, "task %s cannot read its secrets: %.200s", l.v[i].id, out);
		} else if (cert_bundle_from_pem(cert, chain, key, NULL, &b, w, sizeof(w)) != CERT_OK) {
			snprintf(why, wlen, "task %s: unreadable bundle: %s", l.v[i].id, w);
		} else {
			cert_fault ft = cert_verify(&spec, &ca, &b, sh_real_ns(), 0, w, sizeof(w));
			if (ft == CERT_OK) {
				cert_info info;
				cert_info_of(b.leaf, &info);
				snprintf(serial, slen, "%s", info.serial);
				ok = 1;
			} else {
				snprintf(why, wlen, "task %s: %s: %s", l.v[i].id, cert_fault_name(ft), w);
			}
			cert_bundle_free(&b);
		}
		free(out);
	}
	dock_task_list_free(&l);
	return ok;
}

/* samples what the task reads, in a thread, until stopped: every sample must find a valid chain */
typedef struct sampler {
	pthread_t th;
	pthread_mutex_t mu;
	int stop, samples, bad;
	char first_bad[600];
	char serials[16][80];
	int nserials;
} sampler;
static sampler smp = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *sampler_run(void *arg)
{
	(void)arg;
	dock_client *c = client();
	for (;;) {
		pthread_mutex_lock(&smp.mu);
		int stop = smp.stop;
		pthread_mutex_unlock(&smp.mu);
		if (stop || !c)
			break;
		char serial[80] = "", why[600] = "";
		/* a task listed as running may have been replaced by the time exec reaches it: one fresh look */
		int ok = task_reads_valid(c, serial, sizeof(serial), why, sizeof(why)) ||
			 task_reads_valid(c, serial, sizeof(serial), why, sizeof(why));
		pthread_mutex_lock(&smp.mu);
		smp.samples++;
		if (!ok && !smp.bad++)
			snprintf(smp.first_bad, sizeof(smp.first_bad), "%s", why);
		if (ok && (!smp.nserials || strcmp(smp.serials[smp.nserials - 1], serial)) && smp.nserials < 16)
			snprintf(smp.serials[smp.nserials++], sizeof(smp.serials[0]), "%s", serial);
		pthread_mutex_unlock(&smp.mu);
		usleep(150000); /* the sampling period */
	}
	dock_client_free(c);
	return NULL;
}

static void sampler_start(void)
{
	memset(smp.serials, 0, sizeof(smp.serials));
	smp.stop = smp.samples = smp.bad = smp.nserials = 0;
	smp.first_bad[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(pthread_create(&smp.th, NULL, sampler_run, NULL), 0);
}

static void sampler_stop(const char *what)
{
	pthread_mutex_lock(&smp.mu);
	smp.stop = 1;
	pthread_mutex_unlock(&smp.mu);
	pthread_join(smp.th, NULL);
	printf("\n%s: %d samples of the task's secrets, %d without a valid chain%s%s; %d certificates seen\n", what,
	       smp.samples, smp.bad, smp.bad ? ", first: " : "", smp.first_bad, smp.nserials);
	CU_ASSERT(smp.samples > 20);
	CU_ASSERT_EQUAL(smp.bad, 0);
}

static int serials_seen(void)
{
	pthread_mutex_lock(&smp.mu);
	int n = smp.nserials;
	pthread_mutex_unlock(&smp.mu);
	return n;
}

/* 1 once the sampler has read the certificate the status names (the task runs with it), within ms */
static int wait_task_reads_status(long ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(100000)) {
		rec_cert_status st;
		if (!status_of(&st))
			continue;
		pthread_mutex_lock(&smp.mu);
		int same = smp.nserials && !strcmp(smp.serials[smp.nserials - 1], st.serial);
		pthread_mutex_unlock(&smp.mu);
		if (same)
			return 1;
	}
	return 0;
}

/* ---- the engine's side ---- */

/* versions of BASE.PART.vN among the secrets (bitmask of N < 63 per part, ORed), and how many secrets */
static int secret_versions(dock_client *c, uint64_t *mask)
{
	char f[200];
	snprintf(f, sizeof(f), "{\"name\":[\"%s.\"]}", base);
	dock_secret_list l;
	*mask = 0;
	if (dock_secrets_list(c, f, &l))
		return -1;
	int n = 0;
	for (size_t i = 0; i < l.n; i++) {
		size_t part;
		int64_t v;
		if (cert_secret_parse_name(l.v[i].name, base, cert_parts, 3, &part, &v) && v < 63) {
			*mask |= UINT64_C(1) << v;
			n++;
		}
	}
	dock_secret_list_free(&l);
	return n;
}

/* versions the service refers to (bitmask), -1 on error */
static int64_t service_versions(dock_client *c)
{
	dock_service s;
	if (dock_service_inspect(c, svc, &s))
		return -1;
	uint64_t mask = 0;
	const cJSON *ref, *list = cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetObjectItemCaseSensitive(
					    cJSON_GetObjectItemCaseSensitive(s.spec, "TaskTemplate"), "ContainerSpec"),
				    "Secrets");
	cJSON_ArrayForEach(ref, list)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(ref, "SecretName");
		size_t part;
		int64_t v;
		if (cJSON_IsString(n) && cert_secret_parse_name(n->valuestring, base, cert_parts, 3, &part, &v) && v < 63)
			mask |= UINT64_C(1) << v;
	}
	dock_service_free(&s);
	return (int64_t)mask;
}

/* the settled state of version v (0: the one the status names): status says v without error, only v's three
 * secrets exist, the service refers to v only; waits up to ms; returns v, 0 when it did not settle */
static int64_t wait_settled(dock_client *c, int64_t v, long ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(100000)) {
		rec_cert_status st;
		uint64_t m;
		if (!status_of(&st) || st.last_error[0] || st.secret_version <= 0 || st.secret_version >= 63 ||
		    (v && st.secret_version != v))
			continue;
		int64_t w = st.secret_version;
		if (secret_versions(c, &m) == 3 && m == UINT64_C(1) << w &&
		    service_versions(c) == (int64_t)(UINT64_C(1) << w))
			return w;
	}
	return 0;
}

static pid_t start_daemon(const char *name, const char *env, const char *extra)
{
	char logf[160];
	snprintf(logf, sizeof(logf), "/tmp/swarmheal-certs-lab-%s.log", name);
	return t_spawn(logf,
		       "env %s %s --controllers certs --endpoints %s --docker-host %s --prefix %s --ttl 4s --resync 1s "
		       "--cert-recheck 1s --metrics-addr '' %s",
		       env ? env : "", t_bin("swarmheald"), eps, sock, prefix, extra ? extra : "");
}

static int wait_leading(const char *name, long ms)
{
	char logf[160];
	snprintf(logf, sizeof(logf), "/tmp/swarmheal-certs-lab-%s.log", name);
	return t_wait_file(logf, "msg=\"leading\"", ms);
}

/* 1 once pid is stopped (state T in /proc/PID/stat), within ms */
static int wait_stopped(pid_t pid, long ms)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(20000)) {
		char *s = t_read_file(p), *r = strrchr(s, ')');
		int stopped = r && r[1] == ' ' && (r[2] == 'T' || r[2] == 't');
		free(s);
		if (stopped)
			return 1;
	}
	return 0;
}

/* the certs controller's action records, parsed; n out */
static rec_action *actions(const char *pfx, size_t *n)
{
	char ap[300];
	rec_action_prefix(ap, sizeof(ap), pfx, "certs");
	etcd_range_opts o = {.prefix = 1};
	etcd_range_result r;
	*n = 0;
	if (etcd_range(ec, ap, &o, &r))
		return NULL;
	rec_action *v = calloc(r.n + 1, sizeof(*v));
	for (size_t i = 0; v && i < r.n; i++) {
		char why[200];
		if (rec_action_parse(r.kvs[i].value, r.kvs[i].value_len, &v[*n], why, sizeof(why)) == SH_OK)
			(*n)++;
	}
	etcd_range_result_free(&r);
	return v;
}

static void actions_free(rec_action *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rec_action_free(&v[i]);
	free(v);
}

/* the fence of the record of kind/result whose reason (or details) holds needle; 0 none */
static int64_t fence_of(const char *pfx, const char *kind, const char *result, const char *needle, int in_details)
{
	size_t n;
	rec_action *v = actions(pfx, &n);
	int64_t f = 0;
	for (size_t i = 0; i < n && !f; i++) {
		const char *hay = in_details ? v[i].details : v[i].reason;
		if (!strcmp(v[i].kind, kind) && !strcmp(v[i].result, result) && hay && strstr(hay, needle))
			f = v[i].fence;
	}
	actions_free(v, n);
	return f;
}

static int count_records(const char *pfx, const char *kind, const char *result)
{
	size_t n;
	rec_action *v = actions(pfx, &n);
	int k = 0;
	for (size_t i = 0; i < n; i++)
		k += !strcmp(v[i].kind, kind) && (!result || !strcmp(v[i].result, result));
	actions_free(v, n);
	return k;
}

/* ---- the cases ---- */

/* the service the certificate goes to, on the manager (where the test reads its task); start-first: the new
 * task runs before the old one stops, so some task always runs */
static int create_service(void)
{
	dk("service rm %s", svc);
	return dk("service create -d --no-resolve-image --name %s --replicas 1 --stop-grace-period 0s "
		  "--update-order start-first --update-delay 0s --constraint node.role==manager " IMG " sleep 100000",
		  svc);
}

static void put_spec(void)
{
	char k[300], why[256] = "";
	snprintf(spec_json, sizeof(spec_json),
		 "{\"common_name\":\"%s.lab\",\"dns_names\":[\"%s.lab\"],\"duration\":\"" DURATION
		 "\",\"renew_before\":\"" RENEW_BEFORE "\","
		 "\"ca\":{\"cert_file\":\"%s/ca.pem\",\"key_file\":\"%s/ca.key\"},"
		 "\"secret\":{\"name\":\"%s\",\"services\":[\"%s\"]}}",
		 svc, svc, dir, dir, base, svc);
	CU_ASSERT_EQUAL_FATAL(rec_cert_spec_parse(spec_json, strlen(spec_json), &spec, why, sizeof(why)), SH_OK);
	CU_ASSERT_EQUAL_FATAL(cert_ca_load(&spec, sh_real_ns(), &ca, why, sizeof(why)), SH_OK);
	rec_cert_spec_key(k, sizeof(k), prefix, base);
	CU_ASSERT_EQUAL_FATAL(etcd_put(ec, k, spec_json, strlen(spec_json), NULL, NULL, NULL), SH_OK);
}

/* first delivery, then at least two renewals; a task always reads a valid chain; old versions removed */
static void test_secret_renewed_never_missing(void)
{
	dock_client *c = client();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(make_root("ca", "certs lab root", 10 * DAY, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(create_service(), 0);
	pid_t d = start_daemon("a", NULL, NULL);
	CU_ASSERT_TRUE_FATAL(wait_leading("a", 10000));
	int64_t t0 = t_now_ms();
	put_spec();
	char serial[80] = "", why[600] = "";
	int ok = 0;
	for (int64_t end = t_now_ms() + 40000; !ok && t_now_ms() < end; usleep(100000))
		ok = task_reads_valid(c, serial, sizeof(serial), why, sizeof(why));
	if (!ok)
		fprintf(stderr, "no valid chain in the task: %s\n", why);
	CU_ASSERT_TRUE_FATAL(ok);
	printf("\nfirst certificate read from inside the task %.2f s after its spec was written\n",
	       (double)(t_now_ms() - t0) / 1e3);
	sampler_start();
	/* the first certificate and two renewals, each a new version with the old one removed */
	int64_t t1 = t_now_ms();
	while (serials_seen() < 3 && t_now_ms() - t1 < 40000)
		usleep(100000);
	CU_ASSERT_EQUAL(serials_seen(), 3);
	int64_t v = wait_settled(c, 0, 10000);
	CU_ASSERT(v >= 3);
	CU_ASSERT_TRUE(wait_task_reads_status(10000));
	sampler_stop("two renewals");
	CU_ASSERT(count_records(prefix, "renew", "ok") >= 3);
	CU_ASSERT(count_records(prefix, "rotate", "started") >= 3);
	CU_ASSERT(fence_of(prefix, "renew", "ok", "removed ", 1) != 0); /* what was done is in the details */
	t_stop_clean(d);
	dock_client_free(c);
}

/*
 * The leader stops itself right after a step of a renewal (SWARMHEAL_TEST_CERTS_STOP_AT: as a kill there
 * leaves things), the mid-rotation state is checked, it is SIGKILLed, and the standby finishes: one
 * version left, the service on it, the task never without a valid chain, records saying who did what.
 */
static void killed_after(const char *step, const char *a_name, const char *b_name)
{
	dock_client *c = client();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rec_cert_status st0;
	CU_ASSERT_TRUE_FATAL(status_of(&st0));
	int64_t v = st0.secret_version;
	CU_ASSERT_TRUE_FATAL(wait_settled(c, v, 10000));
	char env[80];
	snprintf(env, sizeof(env), "SWARMHEAL_TEST_CERTS_STOP_AT=%s", step);
	pid_t a = start_daemon(a_name, env, NULL);
	CU_ASSERT_TRUE_FATAL(wait_leading(a_name, 10000));
	pid_t b = start_daemon(b_name, NULL, NULL);
	sampler_start();
	/* the next renewal (within 10 s) stops the leader after the step */
	CU_ASSERT_TRUE_FATAL(wait_stopped(a, 20000));
	int64_t t_stop = t_now_ms();
	uint64_t m;
	int n = secret_versions(c, &m);
	int64_t used = service_versions(c);
	rec_cert_status st1;
	CU_ASSERT_TRUE(status_of(&st1));
	printf("\nstopped after '%s': %d secrets (versions mask 0x%llx), the service on mask 0x%llx, status on v%lld\n",
	       step, n, (unsigned long long)m, (long long)used, (long long)st1.secret_version);
	CU_ASSERT_EQUAL(n, 6);
	CU_ASSERT_EQUAL(m, (UINT64_C(1) << v) | (UINT64_C(1) << (v + 1)));
	CU_ASSERT_EQUAL(used, (int64_t)(UINT64_C(1) << (strcmp(step, "created") ? v + 1 : v)));
	CU_ASSERT_EQUAL(st1.secret_version, v); /* the status is written only once the delivery is whole */
	kill(a, SIGKILL);
	CU_ASSERT_TRUE(t_wait_pid(a, 5000, NULL));
	/* the standby takes over and finishes with a version of its own: v + 2, v and v + 1 removed */
	CU_ASSERT_TRUE(wait_settled(c, v + 2, 25000));
	int64_t t_settled = t_now_ms();
	CU_ASSERT_TRUE(wait_task_reads_status(15000));
	printf("the standby settled on v%lld %.2f s after the leader stopped; the task read it %.2f s later\n",
	       (long long)(v + 2), (double)(t_settled - t_stop) / 1e3, (double)(t_now_ms() - t_settled) / 1e3);
	char b_log[160];
	snprintf(b_log, sizeof(b_log), "/tmp/swarmheal-certs-lab-%s.log", b_name);
	CU_ASSERT_TRUE(t_wait_file(b_log, "msg=\"leading\"", 100));
	/* who did what: the killed leader's plan of v + 1, the standby's plan of v + 2 and its renewal, which
	 * removed both older versions */
	char nv1[96], nv2[96], rm0[96], rm1[96];
	snprintf(nv1, sizeof(nv1), "%s.*.v%lld for", base, (long long)(v + 1));
	snprintf(nv2, sizeof(nv2), "%s.*.v%lld for", base, (long long)(v + 2));
	snprintf(rm0, sizeof(rm0), "%s.cert.v%lld", base, (long long)v);
	snprintf(rm1, sizeof(rm1), "%s.cert.v%lld", base, (long long)(v + 1));
	int64_t fa = fence_of(prefix, "rotate", "started", nv1, 0);
	int64_t fb = fence_of(prefix, "rotate", "started", nv2, 0);
	CU_ASSERT(fa != 0);
	CU_ASSERT(fb != 0);
	CU_ASSERT(fa != fb);
	CU_ASSERT_EQUAL(fence_of(prefix, "renew", "ok", rm0, 1), fb);
	CU_ASSERT_EQUAL(fence_of(prefix, "renew", "ok", rm1, 1), fb);
	sampler_stop(step);
	t_stop_clean(b);
	dock_client_free(c);
}

static void test_killed_after_create_standby_finishes(void)
{
	killed_after("created", "kill-created", "standby-created");
}

static void test_killed_after_switch_standby_finishes(void)
{
	killed_after("switched", "kill-switched", "standby-switched");
}

static int swarm_root(dock_client *c, cert_info *root, int *in_progress)
{
	dock_swarm sw;
	if (dock_swarm_inspect(c, &sw))
		return -1;
	BIO *b = BIO_new_mem_buf(sw.trust_root, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	*in_progress = sw.root_rotation_in_progress;
	dock_swarm_free(&sw);
	if (!x)
		return -1;
	cert_info_of(x, root);
	X509_free(x);
	return 0;
}

static int wait_root(dock_client *c, const char *serial, int same, cert_info *root, long ms)
{
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(200000)) {
		int busy = 1;
		if (!swarm_root(c, root, &busy) && !busy && ((strcmp(root->serial, serial) == 0) == same))
			return 1;
	}
	return 0;
}

static int nodes_ready(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "docker -H %s node ls --format '{{.Status}}' | grep -c '^Ready$'", sock);
	char *o = run_out(cmd);
	int n = atoi(o);
	free(o);
	return n;
}

/* an external root valid 2 years (Swarm's minimum is 1), --swarm-ca-rotate-before 3 years: one rotation to a
 * root Swarm generates (20 years), recorded with its reason, every node Ready */
static void test_swarm_root_ca_rotated(void)
{
	dock_client *c = client();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	snprintf(prefix, sizeof(prefix), "/tcl-ca-%d", (int)getpid());
	char ext[80];
	CU_ASSERT_EQUAL_FATAL(make_root("ext", "swarmheal lab external root", 730 * DAY, ext, sizeof(ext)), 0);
	int total = nodes_ready();
	CU_ASSERT_EQUAL_FATAL(total, 3);
	int64_t t0 = t_now_ms();
	CU_ASSERT_EQUAL_FATAL(dk("swarm ca --rotate -d --ca-cert %s/ext.pem --ca-key %s/ext.key", dir, dir), 0);
	cert_info root;
	CU_ASSERT_TRUE_FATAL(wait_root(c, ext, 1, &root, 60000));
	printf("\nthe lab swarm moved to an external root (valid 2 years) in %.1f s\n", (double)(t_now_ms() - t0) / 1e3);
	t0 = t_now_ms();
	pid_t d = start_daemon("ca", NULL, "--swarm-ca-rotate-before 26280h");
	CU_ASSERT_TRUE(wait_root(c, ext, 0, &root, 60000));
	int64_t t_root = t_now_ms();
	CU_ASSERT(root.not_after_ns > sh_real_ns() + 19 * 365 * DAY);
	/* the rotation's start with its reason, its end with the new root */
	int ok = 0;
	for (int64_t end = t_now_ms() + 10000; !ok && t_now_ms() < end; usleep(100000))
		ok = count_records(prefix, "rotate-ca", "ok") == 1;
	CU_ASSERT_TRUE(ok);
	CU_ASSERT(fence_of(prefix, "rotate-ca", "started", "within --swarm-ca-rotate-before", 0) != 0);
	CU_ASSERT(fence_of(prefix, "rotate-ca", "ok", root.serial, 0) != 0);
	CU_ASSERT(fence_of(prefix, "rotate-ca", "ok", ext, 0) != 0);
	int ready = 0;
	for (int64_t end = t_now_ms() + 30000; ready < total && t_now_ms() < end; usleep(200000))
		ready = nodes_ready();
	CU_ASSERT_EQUAL(ready, total);
	printf("swarmheal rotated the root: new root after %.1f s, %d of %d nodes Ready\n",
	       (double)(t_root - t0) / 1e3, ready, total);
	/* one rotation: the new root is far from --swarm-ca-rotate-before */
	CU_ASSERT_EQUAL(count_records(prefix, "rotate-ca", "started"), 1);
	t_stop_clean(d);
	dock_client_free(c);
}


/* ---- bench (SWARMHEAL_CERTS_BENCH=ROUNDS; bench/bench_certs_lab.sh): renewal window to a task running ---- */

/* the newest running task's Status.Timestamp once a task reads a serial other than old (new out); 0 on timeout */
static int64_t wait_new_running(dock_client *c, const char *old, char *new, size_t nlen, long ms)
{
	char serial[80] = "", why[600];
	for (int64_t end = t_now_ms() + ms; t_now_ms() < end; usleep(50000)) {
		if (!task_reads_valid(c, serial, sizeof(serial), why, sizeof(why)) || !strcmp(serial, old))
			continue;
		snprintf(new, nlen, "%s", serial);
		char f[256];
		snprintf(f, sizeof(f), "{\"service\":[\"%s\"],\"desired-state\":[\"running\"]}", svc);
		dock_task_list l;
		int64_t best = 0, created = 0;
		if (dock_tasks_list(c, f, &l))
			return 0;
		for (size_t i = 0; i < l.n; i++)
			if (!strcmp(l.v[i].state, "running") && l.v[i].created_ns > created) {
				created = l.v[i].created_ns;
				best = l.v[i].status_ns;
			}
		dock_task_list_free(&l);
		return best;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void print_stats(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("  %-66s median %.2f s (min %.2f, max %.2f, %d rounds)\n", what, n ? v[n / 2] : 0, n ? v[0] : 0,
	       n ? v[n - 1] : 0, n);
}

static void bench_window_to_running(void)
{
	int rounds = atoi(getenv("SWARMHEAL_CERTS_BENCH"));
	if (rounds < 1 || rounds > 50)
		rounds = 5;
	dock_client *c = client();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(make_root("ca", "certs bench root", 10 * DAY, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(create_service(), 0);
	pid_t d = start_daemon("bench", NULL, NULL);
	CU_ASSERT_TRUE_FATAL(wait_leading("bench", 10000));
	put_spec();
	CU_ASSERT_TRUE_FATAL(wait_settled(c, 0, 40000) > 0);
	double ctl[50], ctl_status[50], man[50], man_all[50];
	int nc = 0, nm = 0;
	/* swarmheal: from status.next_renewal (the window opens) to the new task's running timestamp */
	for (int r = 0; r < rounds; r++) {
		rec_cert_status st;
		char old_serial[80] = "", why[600];
		CU_ASSERT_TRUE_FATAL(wait_settled(c, 0, 20000) > 0);
		CU_ASSERT_TRUE_FATAL(status_of(&st));
		for (int64_t end = t_now_ms() + 10000; t_now_ms() < end && strcmp(old_serial, st.serial); usleep(50000))
			task_reads_valid(c, old_serial, sizeof(old_serial), why, sizeof(why));
		CU_ASSERT_STRING_EQUAL_FATAL(old_serial, st.serial);
		char nw[80];
		int64_t run_ns = wait_new_running(c, st.serial, nw, sizeof(nw), 30000);
		CU_ASSERT_FATAL(run_ns > 0);
		rec_cert_status st2;
		CU_ASSERT_TRUE(status_of(&st2));
		ctl[nc] = (double)(run_ns - st.next_renewal_ns) / 1e9;
		ctl_status[nc++] = (double)(st2.renewed_at_ns - st.next_renewal_ns) / 1e9; /* renewed_at: the pass's start */
	}
	t_stop_clean(d);
	/* by hand, scripted: a certificate issued beforehand, three secrets created, one service update */
	rec_cert_status st;
	CU_ASSERT_TRUE_FATAL(status_of(&st));
	char old[3][96], cur_serial[80], why[600] = "";
	for (int p = 0; p < 3; p++)
		snprintf(old[p], sizeof(old[p]), "%s.%s.v%lld", base, cert_parts[p], (long long)st.secret_version);
	snprintf(cur_serial, sizeof(cur_serial), "%s", st.serial);
	for (int r = 0; r < rounds; r++) {
		cert_bundle b;
		cert_pem pem;
		cert_info info;
		CU_ASSERT_EQUAL_FATAL(cert_issue(&spec, &ca, sh_real_ns(), &b, why, sizeof(why)), SH_OK);
		cert_info_of(b.leaf, &info);
		CU_ASSERT_EQUAL_FATAL(cert_bundle_pem(&b, 0, &pem), SH_OK);
		cert_bundle_free(&b);
		CU_ASSERT_EQUAL(write_pem("m.cert", strdup(pem.cert), 0644), 0);
		CU_ASSERT_EQUAL(write_pem("m.chain", strdup(pem.chain), 0644), 0);
		CU_ASSERT_EQUAL(write_pem("m.key", strdup(pem.key), 0600), 0);
		cert_pem_free(&pem);
		char nn[3][96];
		for (int p = 0; p < 3; p++)
			snprintf(nn[p], sizeof(nn[p]), "%s.%s.m%d", base, cert_parts[p], r + 1);
		int64_t t0 = sh_real_ns();
		for (int p = 0; p < 3; p++)
			CU_ASSERT_EQUAL(dk("secret create %s %s/m.%s", nn[p], dir, cert_parts[p]), 0);
		CU_ASSERT_EQUAL(dk("service update -d --secret-rm %s --secret-rm %s --secret-rm %s "
				   "--secret-add source=%s,target=%s.cert --secret-add source=%s,target=%s.chain "
				   "--secret-add source=%s,target=%s.key %s",
				   old[0], old[1], old[2], nn[0], base, nn[1], base, nn[2], base, svc),
				0);
		char nw[80];
		int64_t run_ns = wait_new_running(c, cur_serial, nw, sizeof(nw), 30000);
		CU_ASSERT_FATAL(run_ns > 0);
		CU_ASSERT_STRING_EQUAL(nw, info.serial);
		/* and the old versions removed once no task uses them */
		int removed = 0;
		for (int64_t end = t_now_ms() + 20000; !removed && t_now_ms() < end; usleep(100000))
			removed = !dk("secret rm %s %s %s", old[0], old[1], old[2]);
		CU_ASSERT_TRUE(removed);
		man[nm] = (double)(run_ns - t0) / 1e9;
		man_all[nm++] = (double)(sh_real_ns() - t0) / 1e9;
		for (int p = 0; p < 3; p++)
			memcpy(old[p], nn[p], sizeof(old[p]));
		snprintf(cur_serial, sizeof(cur_serial), "%s", nw);
	}
	printf("\nrenewal of a certificate delivered as Swarm secrets to a 1-replica service (start-first), lab node 1:\n");
	print_stats("swarmheal: renewal window opens -> new task running", ctl, nc);
	print_stats("  of which: window opens -> the renewing pass starts (renewed_at)", ctl_status, nc);
	print_stats("by hand (scripted, cert issued beforehand): first command -> running", man, nm);
	print_stats("  the same until the old secrets are removed", man_all, nm);
	printf("  (by hand starts when a person notices the renewal is due: swarmheal starts when the window opens)\n");
	dock_client_free(c);
}

int main(int argc, char **argv)
{
	lab = getenv("SWARMHEAL_LAB");
	eps = t_endpoints();
	if (!lab || !eps || t_sh("%s sock 3 >/dev/null 2>&1", lab)) {
		fprintf(stderr, "no lab or etcd (tests/run.sh brings them up): skipped\n");
		return t_skip(__FILE__, "a service this suite needs is missing (see the line above)");
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s sock 1", lab);
	char *s = run_out(cmd);
	s[strcspn(s, "\n")] = '\0';
	snprintf(sock, sizeof(sock), "%s", s);
	free(s);
	etcd_config cfg = {.endpoints = eps};
	if (etcd_client_new(&cfg, &ec, NULL, 0))
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/test_certs_lab.%d", (int)getpid());
	snprintf(base, sizeof(base), "tcl%d-tls", (int)getpid());
	snprintf(svc, sizeof(svc), "tcl%d-app", (int)getpid());
	snprintf(prefix, sizeof(prefix), "/tcl-%d", (int)getpid());
	t_sh("rm -rf %s; mkdir -p %s", dir, dir);
	static const t_case bench[] = {
		{"bench_window_to_running", bench_window_to_running},
		{NULL, NULL},
	};
	static const t_case cases[] = {
		{"secret_renewed_never_missing", test_secret_renewed_never_missing},
		{"killed_after_create_standby_finishes", test_killed_after_create_standby_finishes},
		{"killed_after_switch_standby_finishes", test_killed_after_switch_standby_finishes},
		{"swarm_root_ca_rotated", test_swarm_root_ca_rotated},
		{NULL, NULL},
	};
	int rc = t_run(getenv("SWARMHEAL_CERTS_BENCH") ? "certs_lab_bench" : "certs_lab",
		       getenv("SWARMHEAL_CERTS_BENCH") ? bench : cases, argc, argv);
	/* the service, then its secrets (in use until its tasks are gone) */
	dk("service rm %s", svc);
	for (int64_t end = t_now_ms() + 20000; t_now_ms() < end; usleep(200000)) {
		if (!t_sh("docker -H %s secret ls -q --filter name=%s. | xargs -r docker -H %s secret rm >/dev/null 2>&1",
			  sock, base, sock))
			break;
	}
	cert_ca_free(&ca);
	etcd_client_free(ec);
	t_sh("rm -rf %s", dir);
	return rc;
}
