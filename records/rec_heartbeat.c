/* SPDX-License-Identifier: MIT */
/* rec_heartbeat.c - the agent's heartbeat record and its stop mark */
#include "rec_heartbeat.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "rec.h"

static const char *const engines[] = {"", "up", "slow", "down"};
static const char *const runs[] = {"", "process", "systemd", "container", "swarm-task"};

const char *rec_engine_name(rec_engine e)
{
	return (unsigned)e < 4 ? engines[e] : "";
}

const char *rec_runs_as_name(rec_runs_as r)
{
	return (unsigned)r < 5 ? runs[r] : "";
}

int rec_engine_parse(const char *s, rec_engine *out)
{
	for (int i = 1; i < 4; i++)
		if (s && !strcmp(s, engines[i])) {
			*out = (rec_engine)i;
			return 0;
		}
	return -1;
}

int rec_runs_as_parse(const char *s, rec_runs_as *out)
{
	for (int i = 1; i < 5; i++)
		if (s && !strcmp(s, runs[i])) {
			*out = (rec_runs_as)i;
			return 0;
		}
	return -1;
}

int rec_heartbeat_key(char *buf, size_t len, const char *prefix, const char *node_id)
{
	return rec_key(buf, len, prefix, "/nodes/", node_id);
}

char *rec_heartbeat_encode(const rec_heartbeat *r)
{
	if ((unsigned)r->engine > REC_ENGINE_DOWN || (unsigned)r->runs_as > REC_RUNS_SWARM_TASK ||
	    (!r->stopped && r->engine == REC_ENGINE_UNKNOWN))
		return NULL;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "agent", r->stopped ? "stopped" : "running");
	cJSON_AddStringToObject(j, "node_id", r->node_id);
	cJSON_AddStringToObject(j, "hostname", r->hostname);
	cJSON_AddStringToObject(j, "zone", r->zone);
	cJSON_AddStringToObject(j, "addr", r->addr);
	if (r->engine)
		cJSON_AddStringToObject(j, "engine", rec_engine_name(r->engine));
	if (r->runs_as)
		cJSON_AddStringToObject(j, "runs_as", rec_runs_as_name(r->runs_as));
	rec_add_time(j, "ts", r->ts_ns);
	rec_add_time(j, "cert_not_after", r->cert_not_after_ns);
	if (r->answers_challenge)
		cJSON_AddBoolToObject(j, "answers_challenge", 1);
	return rec_print(j);
}

sh_err rec_heartbeat_parse(const char *json, size_t len, rec_heartbeat *out, char *why, size_t wlen)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = rec_parse_object(json, len, why, wlen);
	if (!j)
		return SH_E_MALFORMED;
	char agent[16], engine[16], runs_as[16];
	int bad = rec_get_str(j, "agent", 0, agent, sizeof(agent), why, wlen) ||
		  rec_get_str(j, "node_id", 1, out->node_id, sizeof(out->node_id), why, wlen) ||
		  rec_get_str(j, "hostname", 0, out->hostname, sizeof(out->hostname), why, wlen) ||
		  rec_get_str(j, "zone", 0, out->zone, sizeof(out->zone), why, wlen) ||
		  rec_get_str(j, "addr", 1, out->addr, sizeof(out->addr), why, wlen) ||
		  rec_get_str(j, "engine", 0, engine, sizeof(engine), why, wlen) ||
		  rec_get_str(j, "runs_as", 0, runs_as, sizeof(runs_as), why, wlen) ||
		  rec_get_time(j, "ts", 1, &out->ts_ns, why, wlen) ||
		  rec_get_time(j, "cert_not_after", 0, &out->cert_not_after_ns, why, wlen) ||
		  rec_get_bool(j, "answers_challenge", 0, &out->answers_challenge, why, wlen);
	cJSON_Delete(j);
	if (bad)
		return SH_E_MALFORMED;
	if (agent[0] && strcmp(agent, "running") && strcmp(agent, "stopped")) {
		snprintf(why, wlen, "field 'agent' has unknown value '%s'", agent);
		return SH_E_MALFORMED;
	}
	out->stopped = !strcmp(agent, "stopped");
	if (!out->node_id[0]) {
		snprintf(why, wlen, "field 'node_id' is empty");
		return SH_E_MALFORMED;
	}
	if (!out->addr[0]) {
		snprintf(why, wlen, "field 'addr' is empty");
		return SH_E_MALFORMED;
	}
	if (engine[0] && rec_engine_parse(engine, &out->engine)) {
		snprintf(why, wlen, "field 'engine' has unknown value '%s'", engine);
		return SH_E_MALFORMED;
	}
	if (!out->stopped && !engine[0]) {
		snprintf(why, wlen, "field 'engine' is missing");
		return SH_E_MALFORMED;
	}
	if (runs_as[0] && rec_runs_as_parse(runs_as, &out->runs_as)) {
		snprintf(why, wlen, "field 'runs_as' has unknown value '%s'", runs_as);
		return SH_E_MALFORMED;
	}
	return SH_OK;
}
