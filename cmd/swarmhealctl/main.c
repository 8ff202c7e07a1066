/* SPDX-License-Identifier: MIT */
/* swarmhealctl - is the swarm healing itself? kubectl-style views of swarmheal's etcd records */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
