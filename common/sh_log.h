/* SPDX-License-Identifier: MIT */
/* sh_log.h - logfmt logging on stderr, one line per event, shared by every program */
#ifndef SH_LOG_H
#define SH_LOG_H

/*
 * sh_log("warn", "drain", "cannot list nodes | error=\"%s\"", msg) prints
 *   ts=2026-11-29T17:00:00.000Z level=warn controller=drain msg="cannot list nodes" error="..."
 * The text before the first " | " is the message (quoted and escaped); what
 * follows is appended as ready-made key=value pairs. Thread-safe (one
 * fprintf per line). component may be NULL ("-").
 */
void sh_log(const char *level, const char *component, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
