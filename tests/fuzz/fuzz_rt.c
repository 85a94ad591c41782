// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: rtnetlink events, pfd_rt_parse_event(), and the xfrm
 * selector match pfd_rt_xfrm_selector_covers() (nft-backend/rt.c). The input
 * is one netlink message (tests/fuzz/fuzz.h). Every message goes to the event
 * parser. An XFRM_MSG_NEWPOLICY message long enough for its
 * xfrm_userpolicy_info is also taken apart as pfd does with a policy dump
 * (xfrm_cb keeps the selector): the selector is matched against a flow whose
 * family and addresses are the 33 bytes after that header, where a real
 * message has its attributes, both ways round as pfd_rt_xfrm_covers() asks,
 * and the answer is compared with a bit-by-bit model of the documented rule.
 * A link message also goes to the VLAN device parser (the link dump behind
 * PFD_DEV_F_VLAN_UPPERS). Seeds from tests/fuzz/mkseeds.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

#include "nft-backend/rt.h"
#include "fuzz.h"

/* Flow addresses follow the policy header: family selector, a, b. */
#define QUERY_LEN (1 + 16 + 16)

static void check_event(const struct nlmsghdr *nlh)
{
	enum pfd_rt_event ev = PFD_RT_EV_ROUTE;
	int ifindex = -1, err;
	bool up = true;

	err = pfd_rt_parse_event(nlh, &ev, &ifindex, &up);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -EOPNOTSUPP);
	if (err)
		return;
	FUZZ_CHECK(ev >= PFD_RT_EV_ROUTE && ev <= PFD_RT_EV_XFRM);
	/* only a link event reports a device as up */
	FUZZ_CHECK(!up || ev == PFD_RT_EV_LINK);
}

static void check_vlan(const struct nlmsghdr *nlh)
{
	struct pfd_rt_vlan v;
	int err = pfd_rt_parse_vlan_link(nlh, &v);

	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -EINVAL);
	/* a VLAN device is never its own parent, and a parent is a device */
	FUZZ_CHECK(err || (v.parent > 0 && v.parent != v.ifindex));
}

static bool model_prefix(const uint8_t *a, const uint8_t *s, unsigned int plen, int alen)
{
	unsigned int i;

	if (plen > (unsigned int)alen * 8)
		return false;
	for (i = 0; i < plen; i++)
		if (((a[i / 8] ^ s[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

/* rt.h: the selector's addresses cover a->b, ports ignored; a selector
 * without a family covers everything only when it names no address. */
static bool model_covers(const struct xfrm_selector *sel, int family, const uint8_t *a,
			 const uint8_t *b)
{
	int alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;

	if (alen < 0)
		return false;
	if (sel->family != AF_UNSPEC && sel->family != family)
		return false;
	if (sel->family == AF_UNSPEC && (sel->prefixlen_s || sel->prefixlen_d))
		return false;
	return model_prefix(a, (const uint8_t *)&sel->saddr, sel->prefixlen_s, alen) &&
	       model_prefix(b, (const uint8_t *)&sel->daddr, sel->prefixlen_d, alen);
}

static void check_selector(const struct nlmsghdr *nlh)
{
	const struct xfrm_userpolicy_info *p = NLMSG_DATA(nlh);
	struct xfrm_selector sel;
	const uint8_t *q;
	__be32 *a, *b;
	size_t alen;
	int family;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY ||
	    nlh->nlmsg_len < NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*p)) + QUERY_LEN))
		return;
	q = (const uint8_t *)p + NLMSG_ALIGN(sizeof(*p));
	memcpy(&sel, &p->sel, sizeof(sel)); /* as xfrm_cb keeps it */
	/* the flow's family is AF_INET or AF_INET6 in pfd; a third of the
	 * inputs try any other value */
	family = q[0] % 3 == 0 ? AF_INET : q[0] % 3 == 1 ? AF_INET6 : q[0];
	/* exactly the address's size, so that ASan sees a read past it */
	alen = family == AF_INET ? 4 : 16;
	a = malloc(alen);
	b = malloc(alen);
	if (!a || !b)
		abort();
	memcpy(a, q + 1, alen);
	memcpy(b, q + 1 + 16, alen);
	FUZZ_CHECK(pfd_rt_xfrm_selector_covers(&sel, family, a, b) ==
		   model_covers(&sel, family, (uint8_t *)a, (uint8_t *)b));
	FUZZ_CHECK(pfd_rt_xfrm_selector_covers(&sel, family, b, a) ==
		   model_covers(&sel, family, (uint8_t *)b, (uint8_t *)a));
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh = fuzz_nlmsg(data, size);

	if (!nlh)
		return 0;
	check_event(nlh);
	check_vlan(nlh);
	check_selector(nlh);
	free(nlh);
	return 0;
}
