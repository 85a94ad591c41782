// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's entry point. Everything is in the command table of pfd/cli.c (which
 * lives in libpfd.a so that the unit tests can check it against pfd(8));
 * `pfd run` goes on to pfd_daemon_run() in pfd/daemon.c.
 */
#include "pfd/cli.h"

int main(int argc, char **argv)
{
	return pfd_cli_main(argc, argv);
}
