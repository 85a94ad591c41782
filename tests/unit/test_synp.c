// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd/synp.c without maps: which syn-protect lines the ruleset's synproxy
 * statements arm (pfd_synp_resolve) and with what options, and the options
 * as `pfd stats` names them. The maps side is tests/bpf/test_synp_maps.c.
 */
#include <stdbool.h>
#include <string.h>

#include "t.h"
#include "pfd/synp.h"

#define TS   PFD_SYNP_F_TIMESTAMP
#define SACK PFD_SYNP_F_SACK_PERM
#define MSS  PFD_SYNP_F_MSS
#define WS   PFD_SYNP_F_WSCALE

static const char *const NO_STATEMENT =
	"the ruleset has no synproxy statement to complete the handshake";
static const char *const DIFFER = "the ruleset's synproxy statements differ: give the line the "
				  "options of its own (mss N wscale N timestamp sack-perm)";
static const char *const NO_MATCH = "no synproxy statement of the ruleset has the line's options";

/* A line without options. */
static const struct pfd_synp_rule plain = { .n_prefixes = 1, .n_ports = 1, .line = 3 };

static struct pfd_synp_rule with_options(uint32_t flags, uint16_t mss, uint8_t wscale)
{
	struct pfd_synp_rule r = plain;

	r.has_options = true;
	r.flags = flags;
	r.mss = mss;
	r.wscale = wscale;
	return r;
}

/* val as the caller hands it in: index and ttl are the caller's and must
 * stay; mss, wscale, flags are to be filled. */
static struct pfd_synp caller_val(void)
{
	return (struct pfd_synp){ .index = 5, .mss = 999, .wscale = 9, .ttl = 64, .flags = 0xff };
}

/* Resolves and checks the outcome: armed with (flags, mss, wscale), or
 * not armed with why_want. */
static void check(const char *name, const struct pfd_synp_rule *r,
		  const struct pfd_nft_synproxy *st, unsigned int n, const char *why_want,
		  uint32_t flags, uint16_t mss, uint8_t wscale)
{
	struct pfd_synp val = caller_val();
	const char *why = NULL;
	char what[256];
	bool armed = pfd_synp_resolve(r, st, n, &val, &why);

	snprintf(what, sizeof(what), "%s: %s", name, why_want ? "not armed" : "armed");
	T_EQ(armed, !why_want, what);
	if (why_want) {
		snprintf(what, sizeof(what), "%s: why", name);
		T_STR(why, why_want, what);
		return;
	}
	snprintf(what, sizeof(what), "%s: flags", name);
	T_EQ(val.flags, flags, what);
	snprintf(what, sizeof(what), "%s: mss", name);
	T_EQ(val.mss, mss, what);
	snprintf(what, sizeof(what), "%s: wscale", name);
	T_EQ(val.wscale, wscale, what);
	snprintf(what, sizeof(what), "%s: index and ttl are the caller's", name);
	T_TRUE(val.index == 5 && val.ttl == 64, what);
}

static void test_resolve(void)
{
	const struct pfd_nft_synproxy full = { .mss = 1460,
					       .wscale = 7,
					       .flags = MSS | WS | TS | SACK };
	const struct pfd_nft_synproxy other = { .mss = 1400,
						.wscale = 7,
						.flags = MSS | WS | TS | SACK };
	const struct pfd_nft_synproxy st1[1] = { full };
	const struct pfd_nft_synproxy equal[3] = { full, full, full };
	const struct pfd_nft_synproxy differ[2] = { full, other };
	struct pfd_synp_rule r;

	check("no statements", &plain, NULL, 0, NO_STATEMENT, 0, 0, 0);
	r = with_options(MSS | TS, 1460, 0);
	check("no statements, options given", &r, NULL, 0, NO_STATEMENT, 0, 0, 0);

	check("one statement", &plain, st1, 1, NULL, MSS | WS | TS | SACK, 1460, 7);
	check("three equal statements", &plain, equal, 3, NULL, MSS | WS | TS | SACK, 1460, 7);
	check("two statements, different mss", &plain, differ, 2, DIFFER, 0, 0, 0);
	{
		const struct pfd_nft_synproxy ws[2] = {
			full, { .mss = 1460, .wscale = 8, .flags = MSS | WS | TS | SACK }
		};
		const struct pfd_nft_synproxy fl[2] = {
			full, { .mss = 1460, .wscale = 7, .flags = MSS | WS | TS }
		};
		const struct pfd_nft_synproxy last[3] = { full, full, other };

		check("two statements, different wscale", &plain, ws, 2, DIFFER, 0, 0, 0);
		check("two statements, one without sack-perm", &plain, fl, 2, DIFFER, 0, 0, 0);
		check("the third differs", &plain, last, 3, DIFFER, 0, 0, 0);
	}

	/* explicit options: some statement must have exactly them */
	r = with_options(MSS | WS | TS | SACK, 1400, 7);
	check("options matching the second", &r, differ, 2, NULL, MSS | WS | TS | SACK, 1400, 7);
	r = with_options(MSS | WS | TS | SACK, 1460, 7);
	check("options matching the first", &r, differ, 2, NULL, MSS | WS | TS | SACK, 1460, 7);
	check("options matching the only one", &r, st1, 1, NULL, MSS | WS | TS | SACK, 1460, 7);
	r = with_options(MSS | WS | TS | SACK, 1300, 7);
	check("options: mss matching none", &r, differ, 2, NO_MATCH, 0, 0, 0);
	r = with_options(MSS | WS | TS | SACK, 1460, 6);
	check("options: wscale matching none", &r, differ, 2, NO_MATCH, 0, 0, 0);
	r = with_options(MSS | WS | TS, 1460, 7);
	check("options: a subset of a statement's", &r, differ, 2, NO_MATCH, 0, 0, 0);
	r = with_options(MSS | WS | TS | SACK | PFD_SYNP_F_ECN, 1460, 7);
	check("options: a superset of a statement's", &r, differ, 2, NO_MATCH, 0, 0, 0);

	/* mss and wscale count only where their flag is set */
	{
		const struct pfd_nft_synproxy ts[2] = {
			{ .mss = 1460, .wscale = 7, .flags = TS | SACK },
			{ .mss = 536, .wscale = 3, .flags = TS | SACK }
		};
		const struct pfd_nft_synproxy mss_only[2] = {
			{ .mss = 1460, .wscale = 7, .flags = MSS },
			{ .mss = 1460, .wscale = 2, .flags = MSS }
		};
		const struct pfd_nft_synproxy ws_only[2] = {
			{ .mss = 1460, .wscale = 7, .flags = WS },
			{ .mss = 1200, .wscale = 7, .flags = WS }
		};

		check("unset mss/wscale differ: equal", &plain, ts, 2, NULL, TS | SACK, 0, 0);
		check("unset wscale differs: equal", &plain, mss_only, 2, NULL, MSS, 1460, 0);
		check("unset mss differs: equal", &plain, ws_only, 2, NULL, WS, 0, 7);
		r = with_options(TS | SACK, 0, 0);
		check("options without mss: any statement mss", &r, ts + 1, 1, NULL, TS | SACK, 0,
		      0);
		r = with_options(MSS | TS, 1460, 9); /* wscale without its flag */
		check("a line's wscale without its flag", &r,
		      (const struct pfd_nft_synproxy[]){ { .mss = 1460, .flags = MSS | TS } }, 1,
		      NULL, MSS | TS, 1460, 0);
		r = with_options(MSS, 1460, 0);
		check("mss with its flag counts", &r,
		      (const struct pfd_nft_synproxy[]){ { .mss = 1400, .flags = MSS } }, 1,
		      NO_MATCH, 0, 0, 0);
	}

	/* a bare `synproxy`: no options, and armed */
	check("a statement without options", &plain,
	      (const struct pfd_nft_synproxy[]){ { .mss = 0, .flags = 0 } }, 1, NULL, 0, 0, 0);
	r = with_options(TS, 0, 0);
	check("options against a statement without", &r,
	      (const struct pfd_nft_synproxy[]){ { .flags = 0 } }, 1, NO_MATCH, 0, 0, 0);

	/* bits that are no option never reach the map (0x80 is dry-run there) */
	check("a statement's other bits are dropped", &plain,
	      (const struct pfd_nft_synproxy[]){ { .flags = TS | 0x80 | 0x100 } }, 1, NULL, TS, 0,
	      0);
	check("ecn is kept", &plain,
	      (const struct pfd_nft_synproxy[]){ { .flags = TS | PFD_SYNP_F_ECN } }, 1, NULL,
	      TS | PFD_SYNP_F_ECN, 0, 0);
}

static void test_format_options(void)
{
	static const struct {
		uint32_t flags;
		const char *want;
	} rows[] = {
		{ 0, "" },
		{ MSS | WS, "" },
		{ TS, "timestamp" },
		{ SACK, "sack-perm" },
		{ MSS | WS | TS | SACK, "timestamp sack-perm" },
		{ TS | SACK | PFD_SYNP_F_DRY_RUN, "timestamp sack-perm" },
	};
	char buf[64], what[64];

	for (unsigned int i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		pfd_synp_format_options(rows[i].flags, buf, sizeof(buf));
		snprintf(what, sizeof(what), "options of flags 0x%x", rows[i].flags);
		T_STR(buf, rows[i].want, what);
	}
}

int main(void)
{
	test_resolve();
	test_format_options();
	return t_done();
}
