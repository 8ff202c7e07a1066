/* SPDX-License-Identifier: MIT */
/* cert_swarm.c - warnings for node certificates expiring while the node is down, root CA rotation decision */
#include "cert_swarm.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "sh_util.h"

/*
 * Rules:
 *  1. a node that is down and whose certificate expires within warn_within
 *     (or has expired) gets a warning: it must be back before then or be
 *     re-joined by hand; an up node is Swarm's to renew;
 *  2. a rotation under way: WAIT_ROTATION, never a second one;
 *  3. with rotate_before set and the root CA expiring within it: ROTATE_CA.
 */
size_t cert_swarm_decide(const cert_swarm_in *in, int64_t now_ns, cert_swarm_action *out, size_t max)
{
	size_t k = 0;
	char t[40];
	for (size_t i = 0; i < in->n && k < max; i++) {
		const cert_swarm_node *n = &in->nodes[i];
		if (!n->down || !n->cert_not_after_ns || n->cert_not_after_ns - now_ns > in->warn_within_ns)
			continue;
		sh_rfc3339(n->cert_not_after_ns, t, sizeof(t));
		cert_swarm_action *a = &out[k++];
		a->kind = CERT_SWARM_WARN_NODE;
		a->node = i;
		if (n->cert_not_after_ns <= now_ns)
			snprintf(a->reason, sizeof(a->reason),
				 "node '%s' (%s) is down and its swarm certificate expired at %s: it cannot rejoin, "
				 "join it again by hand",
				 n->hostname ? n->hostname : "", n->id, t);
		else
			snprintf(a->reason, sizeof(a->reason),
				 "node '%s' (%s) is down and its swarm certificate expires at %s: bring it back before "
				 "then or it cannot rejoin",
				 n->hostname ? n->hostname : "", n->id, t);
	}
	if (k < max && in->rotation_in_progress) {
		cert_swarm_action *a = &out[k++];
		a->kind = CERT_SWARM_WAIT_ROTATION;
		a->node = 0;
		snprintf(a->reason, sizeof(a->reason), "a root CA rotation is under way");
	} else if (k < max && in->rotate_before_ns > 0 && in->root_not_after_ns &&
		   in->root_not_after_ns - now_ns <= in->rotate_before_ns) {
		sh_rfc3339(in->root_not_after_ns, t, sizeof(t));
		cert_swarm_action *a = &out[k++];
		a->kind = CERT_SWARM_ROTATE_CA;
		a->node = 0;
		snprintf(a->reason, sizeof(a->reason), "swarm root CA expires at %s, within --swarm-ca-rotate-before",
			 t);
	}
	return k;
}

int cert_swarm_rotate_spec(cJSON *spec, double *force_rotate)
{
	if (!cJSON_IsObject(spec))
		return -1;
	cJSON *ca = cJSON_GetObjectItemCaseSensitive(spec, "CAConfig");
	if (!cJSON_IsObject(ca)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "CAConfig");
		if (!(ca = cJSON_AddObjectToObject(spec, "CAConfig")))
			return -1;
	}
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ca, "ForceRotate");
	double next = (cJSON_IsNumber(fr) && fr->valuedouble >= 0 ? fr->valuedouble : 0) + 1;
	cJSON_DeleteItemFromObjectCaseSensitive(ca, "ForceRotate");
	cJSON_DeleteItemFromObjectCaseSensitive(ca, "SigningCACert");
	cJSON_DeleteItemFromObjectCaseSensitive(ca, "SigningCAKey");
	if (!cJSON_AddNumberToObject(ca, "ForceRotate", next))
		return -1;
	if (force_rotate)
		*force_rotate = next;
	return 0;
}
