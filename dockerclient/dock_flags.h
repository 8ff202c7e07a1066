/* SPDX-License-Identifier: MIT */
/* dock_flags.h - docker-CLI-style engine connection flags shared by every swarmheal program */
#ifndef DOCK_FLAGS_H
#define DOCK_FLAGS_H

#include "dock.h"
#include "sh_opt.h"

/* The option-table form (sh_opt.h): offsets into a dock_config. --docker-host (env DOCKER_HOST,
 * default unix:///var/run/docker.sock), --docker-tls-ca/-cert/-key: named as the docker CLI's. */
extern const sh_opt dock_flag_table[];

#endif
