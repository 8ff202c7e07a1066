/* SPDX-License-Identifier: MIT */
/* cert_files.c - whole-file reads and atomic, durable replacement of delivered certificate files */
#include "cert_files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sh_err io_fail(char *why, size_t wlen, const char *what, const char *path, int err)
{
	if (why && wlen)
		snprintf(why, wlen, "cannot %s '%s': %s", what, path, strerror(err));
	return SH_E_IO;
}

static int fsync_dir_of(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	const char *dir = dirname(buf);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

sh_err cert_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *why, size_t wlen)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (!path || !*path || n < 0 || (size_t)n >= sizeof(tmp)) {
		if (why && wlen)
			snprintf(why, wlen, "invalid path '%s'", path ? path : "");
		return SH_E_INVAL;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return io_fail(why, wlen, "create a temporary file beside", path, errno);
	const char *what = "set the mode of";
	if (fchmod(fd, mode))
		goto fail;
	what = "write";
	const char *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	what = "fsync";
	if (fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		what = "close";
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		if (why && wlen)
			snprintf(why, wlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(e));
		return SH_E_IO;
	}
	if (fsync_dir_of(path))
		return io_fail(why, wlen, "fsync the directory of", path, errno);
	return SH_OK;
fail:;
	int e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return io_fail(why, wlen, what, tmp, e);
}

sh_err cert_read_file(const char *path, size_t max, char **out, size_t *len, char *why, size_t wlen)
{
	*out = NULL;
	if (len)
		*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		io_fail(why, wlen, "open", path, e);
		return e == ENOENT ? SH_E_NOT_FOUND : SH_E_IO;
	}
	size_t cap = max < 4096 ? max : 4096, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			close(fd);
			return SH_E_NOMEM;
		}
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				close(fd);
				if (why && wlen)
					snprintf(why, wlen, "file '%s' is larger than %zu bytes", path, max);
				return SH_E_TOO_LARGE;
			}
			cap = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
			continue;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return io_fail(why, wlen, "read", path, e);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return SH_OK;
}
