/* SPDX-License-Identifier: MIT */
/* rec_samples.c - prints "SCHEMA<TAB>JSON" for each record encoder, minimal and full, for tests/records/validate.py */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "rec_cert.h"
#include "rec_election.h"
#include "rec_heartbeat.h"
#include "sh_util.h"

static void out(const char *schema, char *json)
{
	if (!json) {
		fprintf(stderr, "rec_samples: %s encoder returned NULL\n", schema);
		exit(1);
	}
	printf("%s\t%s\n", schema, json);
	free(json);
}

int main(void)
{
	int64_t now = sh_real_ns();
	rec_drain_state ds = {.state = "drained", .reason = "heartbeat key is gone", .since_ns = now, .flaps = 2,
			      .fence = 41, .monitor = "dead"};
	out("drain_state", rec_drain_state_encode(&ds));
	rec_drain_state ds0 = {.state = "none"};
	out("drain_state", rec_drain_state_encode(&ds0));
	rec_drain_request rq = {.reason = "kernel upgrade", .requested_by = "alice", .ts_ns = now};
	out("drain_request", rec_drain_request_encode(&rq));
	rec_drain_request rq0 = {.reason = ""};
	out("drain_request", rec_drain_request_encode(&rq0));
	rec_action a = {.ts_ns = now, .controller = "drain", .kind = "drain", .target = "n1", .reason = "dead",
			.result = "ok", .fence = 7, .node = "n1", .details = "{\"tasks\":[\"t1\",\"t2\"]}"};
	out("action", rec_action_encode(&a));
	rec_action a0 = {.ts_ns = now, .controller = "agent.n1", .kind = "restart", .target = "c1", .reason = "",
			 .result = "ok"};
	out("action", rec_action_encode(&a0));
	rec_arbiter_mode m = {.mode = REC_MODE_SINGLE_ZONE, .nzones = 2, .since_ns = now, .reason = "zone b cut",
			      .fence = 3};
	snprintf(m.zones[0], 64, "a");
	snprintf(m.zones[1], 64, "c");
	out("arbiter_mode", rec_arbiter_mode_encode(&m));
	rec_arbiter_mode m0 = {0};
	out("arbiter_mode", rec_arbiter_mode_encode(&m0));
	rec_arbiter_mode m1 = {.mode = REC_MODE_SINGLE_ZONE, .survivor = "a", .nevidence = 2, .fence = 9,
			       .evidence = {{"a", 2, 2, 2}, {"b", 2, 0, 1}}};
	out("arbiter_mode", rec_arbiter_mode_encode(&m1));
	rec_arbiter_replica rr = {.name = "host-1:4242", .zone = "a", .ts_ns = now};
	out("arbiter_replica", rec_arbiter_replica_encode(&rr));
	rec_arbiter_replica rr0 = {.name = "h:1"};
	out("arbiter_replica", rec_arbiter_replica_encode(&rr0));
	rec_arbiter_quorum q = {.state = "forced", .since_ns = now, .manager = "n1", .reason = "quorum lost for 20s",
				.next_step = "re-join n2, then n3, one at a time", .rejoin = {"n2", "n3"}, .nrejoin = 2,
				.fence = 12};
	out("arbiter_quorum", rec_arbiter_quorum_encode(&q));
	rec_arbiter_quorum q0 = {.state = "lost"};
	out("arbiter_quorum", rec_arbiter_quorum_encode(&q0));
	rec_rollback_snapshot s = {.spec = "{\"Name\":\"web\"}", .ts_ns = now, .healthy = 1, .version = 12};
	rec_rollback_digest(s.spec, strlen(s.spec), s.sha256);
	out("rollback_snapshot", rec_rollback_snapshot_encode(&s));
	rec_rollback_state rs = {.state = "rolled-back", .update_ns = now, .reason = "1 of 1 new tasks failed",
				 .since_ns = now, .fence = 9};
	snprintf(rs.spec_sha256, 65, "%s", s.sha256);
	snprintf(rs.target_sha256, 65, "%s", s.sha256);
	rec_rollback_state_add_bad(&rs, s.sha256);
	out("rollback_state", rec_rollback_state_encode(&rs));
	rec_rollback_state rs0 = {.state = "judging"};
	out("rollback_state", rec_rollback_state_encode(&rs0));
	rec_election_view ev = {.name = "controller.drain", .leader = "mgr-1:4242", .leader_key = "/swarmheal/elections/controller.drain/694d7e1a2b3c4d5e",
				.lease = 0x694d7e1a2b3c4d5e, .fence = 1640, .candidates = 2, .nstandbys = 1};
	snprintf(ev.standbys[0], sizeof(ev.standbys[0]), "mgr-2:977");
	out("election_view", rec_election_view_encode(&ev));
	rec_election_view ev0 = {.name = "controller.certs"};
	out("election_view", rec_election_view_encode(&ev0));
	rec_heartbeat hb = {.node_id = "n1", .hostname = "worker-1", .zone = "a", .addr = "10.0.0.21",
			    .engine = REC_ENGINE_UP, .runs_as = REC_RUNS_SYSTEMD, .ts_ns = now, .cert_not_after_ns = now};
	out("heartbeat", rec_heartbeat_encode(&hb));
	rec_heartbeat hs = {.stopped = 1, .node_id = "n1", .addr = "10.0.0.21", .ts_ns = now};
	out("heartbeat", rec_heartbeat_encode(&hs));
	rec_heartbeat hc = {.node_id = "n2", .addr = "10.0.0.22", .engine = REC_ENGINE_UP, .ts_ns = now,
			    .answers_challenge = 1};
	out("heartbeat", rec_heartbeat_encode(&hc));
	rec_drain_challenge ch = {.nonce = "9f86d081884c7d65", .ts_ns = now};
	out("drain_challenge", rec_drain_challenge_encode(&ch));
	ch.answered_ns = now;
	out("drain_challenge", rec_drain_challenge_encode(&ch));
	rec_cert_status cs = {.serial = "0a1b", .not_before_ns = now, .not_after_ns = now, .next_renewal_ns = now,
			      .renewed_at_ns = now, .last_error = ""};
	out("cert_status", rec_cert_status_encode(&cs));
	static const char spec[] = "{\"common_name\":\"api.swarm.internal\",\"dns_names\":[\"api.swarm.internal\"],"
				   "\"duration\":\"720h\",\"ca\":{\"cert_file\":\"/etc/ca.pem\",\"key_file\":\"/etc/ca-key.pem\"},"
				   "\"secret\":{\"name\":\"api-tls\",\"services\":[\"api\"]}}";
	rec_cert_spec *sp = calloc(1, sizeof(*sp));
	char why[200];
	if (!sp || rec_cert_spec_parse(spec, sizeof(spec) - 1, sp, why, sizeof(why))) {
		fprintf(stderr, "rec_samples: cert spec sample: %s\n", why);
		return 1;
	}
	out("cert_spec", rec_cert_spec_encode(sp));
	free(sp);
	return 0;
}
