/* SPDX-License-Identifier: MIT */
/* ctl_internal.h - what ctl.c and ctl_run.c share and controllers do not see */
#ifndef CTL_INTERNAL_H
#define CTL_INTERNAL_H

#include "ctl.h"

void ctl_seen_free(ctl_ctx *x);

#endif
