/* SPDX-License-Identifier: MIT */
/* rec_arbiter.h - /arbiter/mode: the cluster mode every controller obeys */
#ifndef REC_ARBITER_H
#define REC_ARBITER_H

#include <stddef.h>
#include <stdint.h>

#include "sh_err.h"

enum rec_mode { REC_MODE_NORMAL = 0, REC_MODE_SINGLE_ZONE, REC_MODE_READ_ONLY };

typedef struct rec_arbiter_mode {
	enum rec_mode mode;
	char zones[16][64]; /* zones seen with live nodes */
	size_t nzones;
	int64_t since_ns;
	char reason[300];
	int64_t fence;
} rec_arbiter_mode;

int rec_arbiter_mode_key(char *buf, size_t len, const char *prefix);
const char *rec_mode_name(enum rec_mode m); /* normal, single-zone, read-only */
int rec_mode_parse(const char *s, enum rec_mode *out); /* 0 ok, -1 unknown */
char *rec_arbiter_mode_encode(const rec_arbiter_mode *r);
/*
 * SH_E_MALFORMED for anything but a whole record with a known mode. The caller
 * must read a malformed mode as read-only, never as normal: a truncated
 * {"mode":"read-only was once read as normal and a manual drain went ahead.
 */
sh_err rec_arbiter_mode_parse(const char *json, size_t len, rec_arbiter_mode *out, char *why, size_t wlen);

#endif
