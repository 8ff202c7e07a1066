/* SPDX-License-Identifier: MIT */
/* cert_files.h - file delivery for the certs controller: whole-file reads, atomic replace with fsync */
#ifndef CERT_FILES_H
#define CERT_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "sh_err.h"

/*
 * Replace path with data atomically: a temp file in the same directory
 * (path.tmp.XXXXXX) is created with mode (before any byte is written, so a
 * key is never readable by others, whatever the umask), written, fsync'd,
 * renamed over path, then the directory is fsync'd so the rename survives a
 * crash. A reader sees the old file or the new one, never a part. On failure
 * the temp file is removed and path is untouched. SH_E_IO with why
 * ("cannot rename '/a/.b.tmp.x' to '/a/b': ...").
 */
sh_err cert_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *why, size_t wlen);

/* The whole file as a malloc'd NUL-terminated string (at most max bytes). SH_E_NOT_FOUND when it does not
 * exist, SH_E_TOO_LARGE, SH_E_IO; why names the file. */
sh_err cert_read_file(const char *path, size_t max, char **out, size_t *len, char *why, size_t wlen);

#endif
