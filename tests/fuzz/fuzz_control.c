// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the control socket's request parser, pfd_control_parse()
 * (pfd/control.c), which the daemon runs on every line a client sends. The
 * input is the request as received. Checked: it accepts only what the
 * protocol allows (the version is 1, a command came out, NUL terminated and
 * within its buffer), and an accepted request parses the same again with the
 * command JSON-quoted back in. Seeds: tests/fuzz/corpus/control.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfd/control.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cmd[PFD_CONTROL_CMD_MAX], again[PFD_CONTROL_CMD_MAX], *buf = NULL;
	const char *why = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	if (size > PFD_CONTROL_REQ_MAX)
		return 0; /* the daemon never hands it more */
	memset(cmd, 0x5a, sizeof(cmd));
	err = pfd_control_parse((const char *)data, size, cmd, sizeof(cmd), &why);
	FUZZ_CHECK(err == 0 || err == -EINVAL);
	if (err) {
		FUZZ_CHECK(why && why[0]);
		return 0;
	}
	FUZZ_CHECK(FUZZ_TERMINATED(cmd) && cmd[0]);
	/* what the daemon would echo back parses to the same command */
	f = open_memstream(&buf, &len);
	FUZZ_CHECK(f != NULL);
	fputs("{\"version\":1,\"command\":", f);
	pfd_control_json_str(f, cmd);
	fputs("}", f);
	FUZZ_CHECK(!fclose(f));
	FUZZ_CHECK(!pfd_control_parse(buf, len, again, sizeof(again), &why));
	FUZZ_CHECK(!strcmp(cmd, again));
	free(buf);
	return 0;
}
