// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for pfd/tc_egress.c's pfd.conf keys (mss, mss-device, mss-prefix,
 * jitter, jitter-prefix, jitter-port): a table of lines with the expected
 * outcome and message, the cross-line check, and the distribution tables.
 * Every key is also checked against man/pfd-tc.8. No root, no kernel.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../pfd/tc_egress.h"
#include "t.h"

struct line_case {
	const char *line;
	int rc;		 /* 1 handled, 0 not mine, -EINVAL */
	const char *msg; /* substring of the error */
};

static const struct line_case cases[] = {
	{ "mss 1400", 1, NULL },
	{ "mss-device lan0 mtu", 1, NULL },
	{ "mss 87", -EINVAL, "expected a ceiling of 88..65535 bytes or \"mtu\", got \"87\"" },
	{ "mss 65536", -EINVAL, "got \"65536\"" },
	{ "mss -1", -EINVAL, "got \"-1\"" },
	{ "mss 1400x", -EINVAL, "got \"1400x\"" },
	{ "mss exempt", -EINVAL, "got \"exempt\"" },
	{ "mss", -EINVAL, "expected: mss CEILING" },
	{ "mss 1400 1300", -EINVAL, "expected: mss CEILING" },
	{ "mss-device wan0 1300", 1, NULL },
	{ "mss-device wan0", -EINVAL, "expected: mss-device IFACE CEILING" },
	{ "mss-device averyveryverylongname 1300", -EINVAL, "is not a device name" },
	{ "mss-prefix 198.51.100.0/24 dst 1200", 1, NULL },
	{ "mss-prefix 198.51.100.0/24 src 1200 wan0", 1, NULL },
	{ "mss-prefix 2001:db8::/32 dst mtu wan0", 1, NULL },
	{ "mss-prefix 203.0.113.0/24 dst exempt", 1, NULL },
	{ "mss-prefix 198.51.100.1/24 dst 1200", -EINVAL,
	  "\"198.51.100.1/24\" has host bits set; did you mean 198.51.100.0/24?" },
	{ "mss-prefix 2001:db8::1/32 dst 1200", -EINVAL, "did you mean 2001:db8::/32?" },
	{ "mss-prefix 198.51.100.0/33 dst 1200", -EINVAL, "must be 0..32" },
	{ "mss-prefix 198.51.100.0 dst 1200", -EINVAL, "expected a prefix ADDR/LEN" },
	{ "mss-prefix 198.51.100.0/24 both 1200", -EINVAL, "expected \"src\" or \"dst\"" },
	{ "mss-prefix 198.51.100.0/24 dst", -EINVAL, "expected: mss-prefix PREFIX" },
	{ "jitter wan0 1ms 5ms", 1, NULL },
	{ "jitter lan0 500us 2.5ms normal", 1, NULL },
	{ "jitter dmz0 0ns 4s pareto", 1, NULL },
	{ "jitter x0 1ms 5", -EINVAL, "delay \"5\" needs a unit: ns, us, ms or s" },
	{ "jitter x0 1ms 5s", -EINVAL, "exceeds the maximum of 4s" },
	{ "jitter x0 5ms 1ms", -EINVAL, "MAX 1ms is below MIN 5ms" },
	{ "jitter x0 -1ms 1ms", -EINVAL, "expected a delay" },
	{ "jitter x0 1ms 2ms gamma", -EINVAL, "expected uniform, normal or pareto" },
	{ "jitter x0 1ms", -EINVAL, "expected: jitter IFACE MIN MAX" },
	{ "jitter-prefix wan0 192.0.2.0/24", 1, NULL },
	{ "jitter-prefix wan0 192.0.2.0", -EINVAL, "expected a prefix ADDR/LEN" },
	{ "jitter-port wan0 tcp 443", 1, NULL },
	{ "jitter-port wan0 udp 53", 1, NULL },
	{ "jitter-port wan0 sctp 53", -EINVAL, "expected tcp or udp" },
	{ "jitter-port wan0 tcp 0", -EINVAL, "expected a port 1..65535" },
	{ "jitter-port wan0 tcp 65536", -EINVAL, "expected a port 1..65535" },
	/* duplicates, against the lines above */
	{ "mss 1300", -EINVAL, "default ceiling already set on line 1" },
	{ "mss-device wan0 1000", -EINVAL, "wan0 already set on line 10" },
	{ "mss-prefix 198.51.100.0/24 dst 1000", -EINVAL,
	  "198.51.100.0/24 already set on line 13" },
	{ "jitter wan0 2ms 3ms", -EINVAL, "jitter on wan0 already set on line 23" },
	/* not this module's */
	{ "attach eth0", 0, NULL },
	{ "mssx 1400", 0, NULL },
	{ "jitters wan0", 0, NULL },
};

static int feed(struct pfd_egress_config *ec, const char *line, unsigned int no, char *err,
		size_t len)
{
	char buf[256], *args[8], *key, *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	key = strtok_r(buf, " ", &save);
	while (n < 8 && (args[n] = strtok_r(NULL, " ", &save)))
		n++;
	ec->line = no;
	err[0] = 0;
	return pfd_egress_config_line(ec, key, args, n, err, len);
}

static void test_lines(void)
{
	static struct pfd_egress_config ec;
	unsigned int i, line = 0;
	char err[256], name[300];
	int rc;

	pfd_egress_config_init(&ec);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = feed(&ec, cases[i].line, i + 1, err, sizeof(err));
		snprintf(name, sizeof(name), "\"%s\" -> %d", cases[i].line, cases[i].rc);
		T_EQ(rc, cases[i].rc, name);
		if (cases[i].msg) {
			snprintf(name, sizeof(name), "\"%s\": message \"%s\" (got \"%s\")",
				 cases[i].line, cases[i].msg, err);
			T_TRUE(strstr(err, cases[i].msg) != NULL, name);
		}
	}
	T_EQ(ec.n_mss, 7, "7 mss rules kept");
	T_EQ(ec.n_jit, 3, "3 jitter rules kept");
	T_EQ(ec.mss[3].conf.plen, 24, "mss-prefix keeps its length in the map value");
	T_EQ(ec.mss[1].conf.flags, PFD_MSS_F_MTU, "mss mtu -> PFD_MSS_F_MTU");
	T_EQ(ec.mss[6].conf.flags, PFD_MSS_F_EXEMPT, "exempt -> PFD_MSS_F_EXEMPT");
	T_EQ(ec.jit[1].min_ns, 500000, "500us");
	T_EQ(ec.jit[1].max_ns, 2500000, "2.5ms");
	T_EQ(ec.jit[1].dist, PFD_JIT_NORMAL, "normal");
	T_TRUE(pfd_egress_configured(&ec), "configured");
	T_EQ(pfd_egress_config_check(&ec, &line, err, sizeof(err)), 0,
	     "selections have jitter lines");

	pfd_egress_config_init(&ec);
	T_TRUE(!pfd_egress_configured(&ec), "empty config: nothing configured");
	feed(&ec, "jitter wan0 1ms 2ms", 1, err, sizeof(err));
	feed(&ec, "jitter-port lan9 tcp 22", 2, err, sizeof(err));
	T_EQ(pfd_egress_config_check(&ec, &line, err, sizeof(err)), -EINVAL,
	     "jitter-port for a device without jitter refused");
	T_EQ(line, 2, "... at its line");
	T_TRUE(strstr(err, "jitter-port: no jitter line for lan9") != NULL, "... with a message");
}

static void test_tables(void)
{
	struct pfd_jit_dist t;
	int i, mono = 1;

	T_EQ(pfd_egress_dist_table(PFD_JIT_UNIFORM, &t), -EINVAL, "no table for uniform");
	T_EQ(pfd_egress_dist_table(PFD_JIT_NORMAL, &t), 0, "normal table");
	for (i = 1; i < PFD_JIT_DIST_POINTS; i++)
		mono &= t.q[i] >= t.q[i - 1];
	T_TRUE(mono, "normal: an inverse CDF never decreases");
	T_TRUE(abs((int)t.q[127] - 32767) < 400 && abs((int)t.q[128] - 32767) < 400,
	       "normal: median at mid-range");
	/* +-1 sigma is 1/6 of the range each side: the 15.9th percentile */
	T_TRUE(abs((int)t.q[40] - 65535 / 3) < 1200, "normal: 15.9th percentile at min + range/3");
	T_EQ(pfd_egress_dist_table(PFD_JIT_PARETO, &t), 0, "pareto table");
	mono = 1;
	for (i = 1; i < PFD_JIT_DIST_POINTS; i++)
		mono &= t.q[i] >= t.q[i - 1];
	T_TRUE(mono, "pareto: never decreases");
	T_TRUE(t.q[128] < 65535 / 10, "pareto: median near min (heavy tail)");
	T_TRUE(t.q[255] > 65535 / 2, "pareto: the tail reaches toward max");
}

static void test_man(void)
{
	FILE *f = fopen("man/pfd-tc.8", "r");
	char buf[65536], name[128];
	size_t n;
	int i;

	if (!f) {
		t_skip("man/pfd-tc.8 keys", "run from the source tree");
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	for (i = 0; pfd_egress_config_keys[i]; i++) {
		char want[64];

		snprintf(want, sizeof(want), ".BI \"%s ", pfd_egress_config_keys[i]);
		snprintf(name, sizeof(name), "pfd-tc(8) documents %s", pfd_egress_config_keys[i]);
		T_TRUE(strstr(buf, want) != NULL, name);
	}
}

int main(void)
{
	test_lines();
	test_tables();
	test_man();
	return t_done();
}
