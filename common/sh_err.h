/* SPDX-License-Identifier: MIT */
/* sh_err.h - the one error type of every swarmheal library: stable codes, names from one list */
#ifndef SH_ERR_H
#define SH_ERR_H

/* X(NAME, number, description). Numbers are stable and never reused. */
#define SH_ERRORS(X)                                                     \
	X(OK, 0, "success")                                              \
	X(INVAL, 1, "invalid argument")                                  \
	X(NOMEM, 2, "out of memory")                                     \
	X(UNREACHABLE, 3, "cannot reach server")                         \
	X(TIMEOUT, 4, "timed out")                                       \
	X(HTTP, 5, "unexpected HTTP status")                             \
	X(PROTO, 6, "malformed or truncated response")                   \
	X(GRPC, 7, "server returned an error")                           \
	X(TOO_LARGE, 8, "value or response too large")                   \
	X(AUTH, 9, "authentication failed")                              \
	X(COMPACTED, 10, "revision compacted")                           \
	X(NOT_FOUND, 11, "not found")                                    \
	X(LEASE_LOST, 12, "lease expired or revoked")                    \
	X(CONFLICT, 13, "changed underneath (compare failed)")           \
	X(CANCELED, 14, "canceled")                                      \
	X(IO, 15, "input/output error")                                  \
	X(NOT_LEADER, 16, "not the leader")                              \
	X(UNAVAILABLE, 17, "server unavailable")                        \
	X(MALFORMED, 18, "malformed record")

typedef enum {
#define SH_ERR_ENUM(name, num, desc) SH_E_##name = num,
	SH_ERRORS(SH_ERR_ENUM)
#undef SH_ERR_ENUM
} sh_err;

#define SH_OK SH_E_OK

/* Short description of a code ("timed out"); never NULL. */
const char *sh_strerror(sh_err e);
/* Symbolic name of a code ("TIMEOUT"); never NULL. */
const char *sh_errname(sh_err e);

#endif
