/* SPDX-License-Identifier: MIT */
/* cert_deliver.h - the certs controller's I/O shell for delivery: files + reload signal, versioned Swarm secrets */
#ifndef CERT_DELIVER_H
#define CERT_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "cert_decide.h"
#include "cert_pki.h"
#include "dock.h"
#include "rec_cert.h"

/* The parts of a delivery, in order: secret NAME.cert.vN, NAME.chain.vN, NAME.key.vN. */
extern const char *const cert_parts[CERT_ROT_MAX_PARTS];
/* Label every secret this controller creates carries: the certificate's serial (lowercase hex). */
#define CERT_LABEL_SERIAL "swarmheal.cert.serial"
/* Mode of a secret file in the task when a service had no reference to copy it from. */
#define CERT_SECRET_MODE 0444

/*
 * Deliver pem to spec.files: key (0600), then chain (0644, when spec names
 * one), then cert (0644: the leaf alone with a chain destination, else leaf
 * + intermediates), each replaced atomically (cert_write_atomic); then, when
 * spec names a reload_label and dock is not NULL, the signal to every running
 * container carrying it (*signalled, may be NULL, counts them). The
 * directories must exist. SH_OK, or the first error with why.
 */
sh_err cert_deliver_files(dock_client *dock, const rec_cert_spec *spec, const cert_pem *pem, int *signalled, char *why,
			  size_t wlen);

/*
 * The steps of a delivery by secrets, reported as they happen (logs, action
 * records, and tests that stop the controller at a step):
 *  PLANNED   before anything is created: object "NAME.*.vN", detail what the plan will do;
 *  CREATED   the version's three secrets exist (created now, or found from an earlier attempt);
 *  SWITCHED  one service updated (object its name), once per service;
 *  REMOVED   the unused versions removed (detail their names, "" none).
 * A hook that returns an error stops the delivery there with that error
 * (e.g. SH_E_NOT_LEADER from a fenced record at PLANNED: nothing is created).
 */
typedef enum { CERT_STEP_PLANNED = 1, CERT_STEP_CREATED, CERT_STEP_SWITCHED, CERT_STEP_REMOVED } cert_step;
typedef struct cert_step_hook {
	sh_err (*fn)(cert_step step, const char *object, const char *detail, void *ud);
	void *ud;
} cert_step_hook;
/* "planned", "created", "switched", "removed" */
const char *cert_step_name(cert_step s);

/*
 * Deliver pem as Swarm secrets for spec.secret: read the secrets named
 * NAME.* and every service, plan (cert_rot_plan_make with serial), create
 * the version's three secrets (labelled with the serial) unless they exist
 * already with it, switch each service in one update per service
 * (dock_service_update_with: old references out, new in, same File), then
 * remove the versions no service refers to. A crash anywhere leaves a state
 * the next call finishes: new versions are created before any service moves,
 * and only unused versions are removed. *version gets N. A wanted service
 * that does not exist is an error (SH_E_NOT_FOUND) reported after the others
 * were served. hook (may be NULL) hears each step. why names the step and
 * the object.
 */
sh_err cert_deliver_secrets(dock_client *dock, const rec_cert_spec *spec, const cert_pem *pem, const char *serial,
			    int64_t *version, const cert_step_hook *hook, char *why, size_t wlen);

/*
 * Observe the secrets side for cert_decide(): *current = 1 when
 * NAME.PART.v<version> exists for every part labelled with serial, every
 * service of spec.secret.services refers to all of them, and no service
 * refers to another version. SH_OK, or an Engine API error with why.
 */
sh_err cert_observe_secrets(dock_client *dock, const rec_cert_spec *spec, const char *serial, int64_t version,
			    int *current, char *why, size_t wlen);

/* Lowercase hex SHA-256 of the spec's canonical encoding (rec_cert_spec_encode); out >= 65 bytes. 0 ok. */
int cert_spec_digest(const rec_cert_spec *spec, char *out, size_t outlen);

#endif
