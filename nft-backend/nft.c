// SPDX-License-Identifier: GPL-2.0-only
/*
 * nftables over netlink (see nft.h): the ruleset generation, flowtables and
 * netdev-family chains (policy XDP would skip), synproxy statements, change
 * events, and a probe for flowtable support. Flowtables and chains are
 * decoded with libnftnl, synproxy statements here (see below); every
 * snapshot is consistent: the generation is read before and after the dumps
 * (and each dump part carries the generation's low 16 bits in res_id), and
 * the dumps are repeated when the ruleset changed underneath, as nft(8)
 * itself does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_synproxy.h>

#include "nft-backend/nft.h"
#include "nft-backend/nl.h"

#define NFT_READ_TRIES	 10
#define NFT_EVENT_RCVBUF (1 << 20)
#define NFT_READ_BUDGET	 1024

struct pfd_nft {
	struct pfd_nl req;
	struct pfd_nl ev;    /* zeroed until pfd_nft_events_open */
	uint32_t generation; /* of the last consistent read */
};

int pfd_nft_open(struct pfd_nft **out)
{
	struct pfd_nft *nft = calloc(1, sizeof(*nft));
	int err;

	if (!nft)
		return -ENOMEM;
	err = pfd_nl_open(&nft->req, NETLINK_NETFILTER, 0, false);
	if (err) {
		free(nft);
		return err;
	}
	*out = nft;
	return 0;
}

void pfd_nft_close(struct pfd_nft *nft)
{
	if (!nft)
		return;
	pfd_nl_close(&nft->ev);
	pfd_nl_close(&nft->req);
	free(nft);
}

static struct nlmsghdr *nft_request(char *buf, uint16_t type, uint8_t family, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	return nlh;
}

int pfd_nft_parse_gen(const struct nlmsghdr *nlh, uint32_t *genid)
{
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)) ||
	    nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN))
		return -EINVAL;
	mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_GEN_ID)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return -EINVAL;
		*genid = ntohl(mnl_attr_get_u32(a));
		return 0;
	}
	return -EINVAL;
}

static int gen_cb(const struct nlmsghdr *nlh, void *arg)
{
	return pfd_nft_parse_gen(nlh, arg);
}

int pfd_nft_generation(struct pfd_nft *nft, uint32_t *genid)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	uint32_t gen = 0;
	int err;

	/* The reply is one NEWGEN message; a reply without it is an error. */
	gen = UINT32_MAX;
	err = pfd_nl_request(&nft->req, nft_request(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0), gen_cb,
			     &gen);
	if (err)
		return err;
	*genid = gen;
	return 0;
}

void pfd_ft_list_clear(struct pfd_ft_list *l)
{
	if (!l)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* libnftnl exit()s ("kernel ABI is broken") on an attribute of the wrong
 * size, strdup()s strings without checking their end and trusts nested
 * lengths. Kernel messages are well formed, but nothing from the socket is
 * trusted: before a message goes to libnftnl, every attribute libnftnl
 * validates gets the same check here, so that a bad one is refused rather
 * than fatal (see nftnl_flowtable_parse_attr_cb, nftnl_chain_parse_attr_cb
 * and their hook callbacks). */
enum { ATTR_END = 0, ATTR_STR, ATTR_NEST, ATTR_U32, ATTR_U64, ATTR_U8, ATTR_U16 };

struct attr_rule {
	uint16_t type; /* UINT16_MAX: every type at this level */
	uint8_t kind;
	const struct attr_rule *nested; /* rules inside an ATTR_NEST */
};

static int attrs_sane(const void *data, size_t len, const struct attr_rule *rules)
{
	const struct nlattr *a = data;

	while (len >= sizeof(*a)) {
		const struct attr_rule *r;
		const char *p = (const char *)a + sizeof(*a);
		size_t plen, step;

		if (a->nla_len < sizeof(*a) || a->nla_len > len)
			return -EINVAL;
		plen = a->nla_len - sizeof(*a);
		for (r = rules; r && r->kind != ATTR_END; r++) {
			if (r->type != UINT16_MAX && r->type != (a->nla_type & NLA_TYPE_MASK))
				continue;
			if ((r->kind == ATTR_STR && (!plen || p[plen - 1] != '\0')) ||
			    (r->kind == ATTR_U8 && plen != 1) ||
			    (r->kind == ATTR_U16 && plen != 2) ||
			    (r->kind == ATTR_U32 && plen != 4) ||
			    (r->kind == ATTR_U64 && plen != 8) ||
			    (r->kind == ATTR_NEST && plen &&
			     (plen < sizeof(*a) || attrs_sane(p, plen, r->nested))))
				return -EINVAL;
			break;
		}
		step = NLA_ALIGN(a->nla_len);
		if (step > len)
			step = len;
		len -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return len ? -EINVAL : 0;
}

static const struct attr_rule dev_names[] = {
	{ UINT16_MAX, ATTR_STR, NULL }, /* NFTA_DEVICE_NAME, any count */
	{ 0 },
};

static const struct attr_rule ft_hook[] = {
	{ NFTA_FLOWTABLE_HOOK_NUM, ATTR_U32, NULL },
	{ NFTA_FLOWTABLE_HOOK_PRIORITY, ATTR_U32, NULL },
	{ NFTA_FLOWTABLE_HOOK_DEVS, ATTR_NEST, dev_names },
	{ 0 },
};

static const struct attr_rule ft_rules[] = {
	{ NFTA_FLOWTABLE_TABLE, ATTR_STR, NULL },
	{ NFTA_FLOWTABLE_NAME, ATTR_STR, NULL },
	{ NFTA_FLOWTABLE_HOOK, ATTR_NEST, ft_hook },
	{ NFTA_FLOWTABLE_USE, ATTR_U32, NULL },
	{ NFTA_FLOWTABLE_FLAGS, ATTR_U32, NULL },
	{ NFTA_FLOWTABLE_HANDLE, ATTR_U64, NULL },
	{ 0 },
};

static const struct attr_rule chain_hook[] = {
	{ NFTA_HOOK_HOOKNUM, ATTR_U32, NULL },
	{ NFTA_HOOK_PRIORITY, ATTR_U32, NULL },
	{ NFTA_HOOK_DEV, ATTR_STR, NULL },
	{ NFTA_HOOK_DEVS, ATTR_NEST, dev_names },
	{ 0 },
};

static const struct attr_rule chain_counters[] = {
	{ NFTA_COUNTER_PACKETS, ATTR_U64, NULL },
	{ NFTA_COUNTER_BYTES, ATTR_U64, NULL },
	{ 0 },
};

static const struct attr_rule chain_rules[] = {
	{ NFTA_CHAIN_TABLE, ATTR_STR, NULL },
	{ NFTA_CHAIN_NAME, ATTR_STR, NULL },
	{ NFTA_CHAIN_TYPE, ATTR_STR, NULL },
	{ NFTA_CHAIN_HOOK, ATTR_NEST, chain_hook },
	{ NFTA_CHAIN_POLICY, ATTR_U32, NULL },
	{ NFTA_CHAIN_USE, ATTR_U32, NULL },
	{ NFTA_CHAIN_FLAGS, ATTR_U32, NULL },
	{ NFTA_CHAIN_ID, ATTR_U32, NULL },
	{ NFTA_CHAIN_HANDLE, ATTR_U64, NULL },
	{ NFTA_CHAIN_COUNTERS, ATTR_NEST, chain_counters },
	{ 0 },
};

static int msg_sane(const struct nlmsghdr *nlh, const struct attr_rule *rules)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return -EINVAL;
	return attrs_sane(mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)),
			  nlh->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg)), rules);
}

int pfd_nft_parse_flowtable(const struct nlmsghdr *nlh, struct pfd_flowtable *ft)
{
	struct nftnl_flowtable *t = nftnl_flowtable_alloc();
	const char *const *devs;
	int err = -EINVAL;

	memset(ft, 0, sizeof(*ft));
	if (!t)
		return -ENOMEM;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)) ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWFLOWTABLE || msg_sane(nlh, ft_rules) ||
	    nftnl_flowtable_nlmsg_parse(nlh, t) < 0)
		goto out;
	if (!nftnl_flowtable_is_set(t, NFTNL_FLOWTABLE_TABLE) ||
	    !nftnl_flowtable_is_set(t, NFTNL_FLOWTABLE_NAME))
		goto out;
	copy_name(ft->table, sizeof(ft->table), nftnl_flowtable_get_str(t, NFTNL_FLOWTABLE_TABLE));
	copy_name(ft->name, sizeof(ft->name), nftnl_flowtable_get_str(t, NFTNL_FLOWTABLE_NAME));
	ft->family = nftnl_flowtable_get_u32(t, NFTNL_FLOWTABLE_FAMILY);
	ft->hooknum = nftnl_flowtable_get_u32(t, NFTNL_FLOWTABLE_HOOKNUM);
	ft->prio = nftnl_flowtable_get_s32(t, NFTNL_FLOWTABLE_PRIO);
	ft->flags = nftnl_flowtable_get_u32(t, NFTNL_FLOWTABLE_FLAGS);
	devs = nftnl_flowtable_is_set(t, NFTNL_FLOWTABLE_DEVICES) ?
		       nftnl_flowtable_get_array(t, NFTNL_FLOWTABLE_DEVICES) :
		       NULL;
	/* Past PFD_FT_MAX_DEVS devices are left out: pfd then fast-paths
	 * fewer flows, never one the flowtable would not. */
	for (; devs && *devs && ft->ndevs < PFD_FT_MAX_DEVS; devs++) {
		if (!**devs || strlen(*devs) >= IFNAMSIZ)
			continue;
		copy_name(ft->devs[ft->ndevs++], IFNAMSIZ, *devs);
	}
	err = 0;
out:
	nftnl_flowtable_free(t);
	return err;
}

struct dump_arg {
	uint32_t gen_lo; /* res_id every part must carry */
	struct pfd_ft_list *ft;
	struct pfd_nft_netdev_chain **rows;
	unsigned int nrows, cap;
	struct pfd_nft_synproxy *sp; /* distinct statements, malloc'd */
	unsigned int nsp, spcap;
};

/* nfnetlink puts the generation's low 16 bits in every dump part. */
static int dump_check_gen(const struct nlmsghdr *nlh, const struct dump_arg *d)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)))
		return -EINVAL;
	return ntohs(nfg->res_id) == d->gen_lo ? 0 : -EINTR;
}

static int ft_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_arg *d = arg;
	struct pfd_ft_list *l = d->ft;
	struct pfd_flowtable *items;
	int err = dump_check_gen(nlh, d);

	if (err)
		return err;
	if (l->count == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		items = realloc(l->items, d->cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		l->items = items;
	}
	err = pfd_nft_parse_flowtable(nlh, &l->items[l->count]);
	if (err)
		return err;
	l->count++;
	return 0;
}

/* One dump request of a consistent read. */
struct dump_step {
	uint16_t type; /* NFT_MSG_GET* */
	pfd_nl_msg_cb cb;
	uint32_t obj_type; /* GETOBJ: only objects of this type (0: all) */
};

/* Runs the dumps (one request each, all families) between two generation
 * reads until both agree. */
static int consistent_dumps(struct pfd_nft *nft, const struct dump_step *steps, unsigned int nsteps,
			    struct dump_arg *d, void (*reset)(struct dump_arg *))
{
	char buf[PFD_NL_REQ_SIZE];
	uint32_t before, after;
	unsigned int i;
	int err = 0, tries;

	for (tries = 0; tries < NFT_READ_TRIES; tries++) {
		reset(d);
		err = pfd_nft_generation(nft, &before);
		if (err)
			return err;
		d->gen_lo = before & 0xffff;
		for (i = 0; i < nsteps; i++) {
			struct nlmsghdr *nlh;

			memset(buf, 0, sizeof(buf));
			nlh = nft_request(buf, steps[i].type, NFPROTO_UNSPEC, NLM_F_DUMP);
			/* the kernel filters an object dump by type (one that
			 * does not sends all; the callback skips the others) */
			if (steps[i].obj_type)
				mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(steps[i].obj_type));
			err = pfd_nl_request(&nft->req, nlh, steps[i].cb, d);
			if (err)
				break;
		}
		if (err == -EINTR)
			continue; /* changed under us */
		if (err)
			return err;
		err = pfd_nft_generation(nft, &after);
		if (err)
			return err;
		if (before != after)
			continue;
		nft->generation = after;
		return 0;
	}
	reset(d);
	return -EAGAIN;
}

static int consistent_dump(struct pfd_nft *nft, uint16_t type, pfd_nl_msg_cb cb, struct dump_arg *d,
			   void (*reset)(struct dump_arg *))
{
	const struct dump_step step = { .type = type, .cb = cb };

	return consistent_dumps(nft, &step, 1, d, reset);
}

static void ft_reset(struct dump_arg *d)
{
	pfd_ft_list_clear(d->ft);
	d->cap = 0;
}

int pfd_nft_read_flowtables(struct pfd_nft *nft, struct pfd_ft_list *out)
{
	struct dump_arg d = { .ft = out };
	int err;

	memset(out, 0, sizeof(*out));
	err = consistent_dump(nft, NFT_MSG_GETFLOWTABLE, ft_cb, &d, ft_reset);
	if (!err)
		out->genid = nft->generation;
	return err;
}

int pfd_nft_parse_chain(const struct nlmsghdr *nlh, struct pfd_nft_netdev_chain *rows,
			unsigned int max, unsigned int *n)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *const *devs = NULL;
	const char *one[2] = { NULL, NULL };
	uint32_t family, hooknum;
	int err = -EINVAL;

	*n = 0;
	if (!c)
		return -ENOMEM;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)) ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWCHAIN || msg_sane(nlh, chain_rules) ||
	    nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	err = 0;
	if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
		goto out; /* a regular chain: only jumped to */
	family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
	/* inet-family ingress chains (5.10+) run at the netdev ingress hook
	 * too, so XDP skips them as well. */
	if (family == NFPROTO_INET && hooknum == NF_INET_INGRESS)
		hooknum = NF_NETDEV_INGRESS;
	else if (family != NFPROTO_NETDEV)
		goto out;
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES)) {
		devs = nftnl_chain_get_array(c, NFTNL_CHAIN_DEVICES);
	} else if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEV)) {
		one[0] = nftnl_chain_get_str(c, NFTNL_CHAIN_DEV);
		devs = one;
	}
	for (; devs && *devs; devs++) {
		struct pfd_nft_netdev_chain *r;

		if (!**devs || strlen(*devs) >= IFNAMSIZ)
			continue;
		if (*n == max) {
			err = -E2BIG;
			goto out;
		}
		r = &rows[(*n)++];
		memset(r, 0, sizeof(*r));
		copy_name(r->table, sizeof(r->table), nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
		copy_name(r->chain, sizeof(r->chain), nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
		copy_name(r->dev, sizeof(r->dev), *devs);
		r->hooknum = hooknum;
	}
out:
	nftnl_chain_free(c);
	return err;
}

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_arg *d = arg;
	struct pfd_nft_netdev_chain *rows;
	unsigned int n;
	int err = dump_check_gen(nlh, d);

	if (err)
		return err;
	for (;;) {
		if (d->cap - d->nrows < 16) {
			d->cap = d->cap ? d->cap * 2 : 32;
			rows = realloc(*d->rows, d->cap * sizeof(*rows));
			if (!rows)
				return -ENOMEM;
			*d->rows = rows;
		}
		err = pfd_nft_parse_chain(nlh, *d->rows + d->nrows, d->cap - d->nrows, &n);
		if (err != -E2BIG)
			break;
		d->cap *= 2;
		rows = realloc(*d->rows, d->cap * sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		*d->rows = rows;
	}
	if (err)
		return err;
	d->nrows += n;
	return 0;
}

static void chain_reset(struct dump_arg *d)
{
	free(*d->rows);
	*d->rows = NULL;
	d->nrows = d->cap = 0;
}

int pfd_nft_read_netdev_chains(struct pfd_nft *nft, struct pfd_nft_netdev_chain **out,
			       unsigned int *count)
{
	struct dump_arg d = { .rows = out };
	int err;

	*out = NULL;
	*count = 0;
	/* All families: netdev chains, and inet chains on the ingress hook. */
	err = consistent_dump(nft, NFT_MSG_GETCHAIN, chain_cb, &d, chain_reset);
	if (err)
		return err;
	*count = d.nrows;
	return 0;
}

/* Synproxy statements are walked here rather than decoded by libnftnl:
 * nftnl_rule_nlmsg_parse refuses a whole rule over one expression it does
 * not know (a kernel newer than libnftnl), dereferences a missing
 * expression name, and exit()s on a bad attribute of any of its ~40
 * expression types. Only the synproxy expressions (and objects) matter, so
 * only the attributes on the way to them are checked and read: the rule's
 * expression list, each expression's name and data, and the synproxy data
 * (nft_synproxy_do_dump: NFTA_SYNPROXY_MSS be16, _WSCALE u8, _FLAGS be32). */
static const struct attr_rule synproxy_data[] = {
	{ NFTA_SYNPROXY_MSS, ATTR_U16, NULL },
	{ NFTA_SYNPROXY_WSCALE, ATTR_U8, NULL },
	{ NFTA_SYNPROXY_FLAGS, ATTR_U32, NULL },
	{ 0 },
};

/* An expression's data depends on its type: checked (synproxy_data) only
 * for synproxy, framing alone for the others. */
static const struct attr_rule expr_rules[] = {
	{ NFTA_EXPR_NAME, ATTR_STR, NULL },
	{ NFTA_EXPR_DATA, ATTR_NEST, NULL },
	{ 0 },
};

static const struct attr_rule expr_list[] = {
	{ UINT16_MAX, ATTR_NEST, expr_rules }, /* NFTA_LIST_ELEM, any count */
	{ 0 },
};

static const struct attr_rule rule_rules[] = {
	{ NFTA_RULE_EXPRESSIONS, ATTR_NEST, expr_list },
	{ 0 },
};

static const struct attr_rule obj_rules[] = {
	{ NFTA_OBJ_TYPE, ATTR_U32, NULL },
	{ NFTA_OBJ_DATA, ATTR_NEST, NULL }, /* per object type, like NFTA_EXPR_DATA */
	{ 0 },
};

/* One statement from its (nested) data attribute; NULL: none, all 0. */
static int synproxy_data_parse(const struct nlattr *data, struct pfd_nft_synproxy *sp)
{
	const struct nlattr *a;

	memset(sp, 0, sizeof(*sp));
	if (!data)
		return 0;
	if (attrs_sane(mnl_attr_get_payload(data), mnl_attr_get_payload_len(data), synproxy_data))
		return -EINVAL;
	mnl_attr_for_each_nested (a, data) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SYNPROXY_MSS:
			sp->mss = ntohs(mnl_attr_get_u16(a));
			break;
		case NFTA_SYNPROXY_WSCALE:
			sp->wscale = mnl_attr_get_u8(a);
			break;
		case NFTA_SYNPROXY_FLAGS:
			sp->flags = ntohl(mnl_attr_get_u32(a));
			break;
		}
	}
	return 0;
}

static int synproxy_row(const struct nlattr *data, struct pfd_nft_synproxy *rows, unsigned int max,
			unsigned int *n)
{
	struct pfd_nft_synproxy sp;

	if (synproxy_data_parse(data, &sp))
		return -EINVAL;
	if (*n == max)
		return -E2BIG;
	rows[(*n)++] = sp;
	return 0;
}

static int parse_rule_synproxy(const struct nlmsghdr *nlh, struct pfd_nft_synproxy *rows,
			       unsigned int max, unsigned int *n)
{
	const struct nlattr *list, *elem, *a;
	int err;

	mnl_attr_for_each (list, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(list) != NFTA_RULE_EXPRESSIONS)
			continue;
		mnl_attr_for_each_nested (elem, list) {
			const struct nlattr *data = NULL;
			const char *name = NULL;

			if (mnl_attr_get_type(elem) != NFTA_LIST_ELEM)
				continue;
			mnl_attr_for_each_nested (a, elem) {
				if (mnl_attr_get_type(a) == NFTA_EXPR_NAME)
					name = mnl_attr_get_str(a);
				else if (mnl_attr_get_type(a) == NFTA_EXPR_DATA)
					data = a;
			}
			if (!name || strcmp(name, "synproxy"))
				continue;
			err = synproxy_row(data, rows, max, n);
			if (err)
				return err;
		}
	}
	return 0;
}

static int parse_obj_synproxy(const struct nlmsghdr *nlh, struct pfd_nft_synproxy *rows,
			      unsigned int max, unsigned int *n)
{
	const struct nlattr *a, *data = NULL;
	uint32_t type = NFT_OBJECT_UNSPEC;

	mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_OBJ_TYPE)
			type = ntohl(mnl_attr_get_u32(a));
		else if (mnl_attr_get_type(a) == NFTA_OBJ_DATA)
			data = a;
	}
	if (type != NFT_OBJECT_SYNPROXY)
		return 0;
	return synproxy_row(data, rows, max, n);
}

int pfd_nft_parse_synproxy(const struct nlmsghdr *nlh, struct pfd_nft_synproxy *rows,
			   unsigned int max, unsigned int *n)
{
	*n = 0;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return -EINVAL;
	if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE))
		return msg_sane(nlh, rule_rules) ? -EINVAL : parse_rule_synproxy(nlh, rows, max, n);
	if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWOBJ))
		return msg_sane(nlh, obj_rules) ? -EINVAL : parse_obj_synproxy(nlh, rows, max, n);
	return -EINVAL;
}

/* Adds a statement unless an equal one is there. */
static int synproxy_add(struct dump_arg *d, const struct pfd_nft_synproxy *sp)
{
	struct pfd_nft_synproxy *items;
	unsigned int i;

	for (i = 0; i < d->nsp; i++)
		if (d->sp[i].mss == sp->mss && d->sp[i].wscale == sp->wscale &&
		    d->sp[i].flags == sp->flags)
			return 0;
	if (d->nsp == d->spcap) {
		unsigned int cap = d->spcap ? d->spcap * 2 : 8;

		items = realloc(d->sp, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		d->sp = items;
		d->spcap = cap;
	}
	d->sp[d->nsp++] = *sp;
	return 0;
}

static int synproxy_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_arg *d = arg;
	struct pfd_nft_synproxy local[8], *rows = local, *big = NULL;
	unsigned int max = 8, n, i;
	int err = dump_check_gen(nlh, d);

	if (err)
		return err;
	/* A rule with more synproxy expressions than fit: retry with twice
	 * the room (a message holds finitely many). */
	while ((err = pfd_nft_parse_synproxy(nlh, rows, max, &n)) == -E2BIG) {
		max *= 2;
		free(big);
		big = malloc(max * sizeof(*big));
		if (!big)
			return -ENOMEM;
		rows = big;
	}
	for (i = 0; !err && i < n; i++)
		err = synproxy_add(d, &rows[i]);
	free(big);
	return err;
}

static void synproxy_reset(struct dump_arg *d)
{
	free(d->sp);
	d->sp = NULL;
	d->nsp = d->spcap = 0;
}

int pfd_nft_read_synproxy(struct pfd_nft *nft, struct pfd_nft_synproxy *out, unsigned int max)
{
	/* Rules of every family, then the synproxy objects (filtered by the
	 * kernel): both in the same generation. */
	static const struct dump_step steps[] = {
		{ .type = NFT_MSG_GETRULE, .cb = synproxy_cb },
		{ .type = NFT_MSG_GETOBJ, .cb = synproxy_cb, .obj_type = NFT_OBJECT_SYNPROXY },
	};
	struct dump_arg d = { 0 };
	int err;

	err = consistent_dumps(nft, steps, sizeof(steps) / sizeof(steps[0]), &d, synproxy_reset);
	if (err)
		return err;
	if (out && max && d.nsp)
		memcpy(out, d.sp, (d.nsp < max ? d.nsp : max) * sizeof(*out));
	err = d.nsp > INT32_MAX ? -EOVERFLOW : (int)d.nsp;
	synproxy_reset(&d);
	return err;
}

int pfd_nft_events_open(struct pfd_nft *nft)
{
	int err;

	if (nft->ev.buf)
		return 0;
	err = pfd_nl_open(&nft->ev, NETLINK_NETFILTER, NFT_EVENT_RCVBUF, true);
	if (err)
		return err;
	err = pfd_nl_join(&nft->ev, NFNLGRP_NFTABLES);
	if (err)
		pfd_nl_close(&nft->ev);
	return err;
}

int pfd_nft_events_fd(const struct pfd_nft *nft)
{
	return nft->ev.buf ? nft->ev.fd : -1;
}

int pfd_nft_events_read(struct pfd_nft *nft, uint32_t *genid)
{
	int ret = 0, i;

	if (!nft->ev.buf)
		return -ENOTCONN;
	for (i = 0; i < NFT_READ_BUDGET; i++) {
		const struct nlmsghdr *nlh;
		bool foreign;
		ssize_t n = pfd_nl_recv(&nft->ev, nft->ev.buf, PFD_NL_BUF_SIZE, &foreign);
		size_t left;

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS) {
			ret = -ENOBUFS; /* lost: the caller treats it as a change */
			continue;
		}
		if (n == -EMSGSIZE || foreign)
			continue;
		if (n < 0)
			return (int)n;
		for (nlh = (const struct nlmsghdr *)nft->ev.buf, left = (size_t)n;
		     pfd_nl_msg_ok(nlh, left); nlh = pfd_nl_next(nlh, &left)) {
			uint32_t gen;

			/* Every transaction ends with NEWGEN; the objects
			 * before it do not matter to pfd one by one. */
			if (pfd_nft_parse_gen(nlh, &gen))
				continue;
			*genid = gen;
			if (ret == 0)
				ret = 1;
		}
	}
	return ret;
}

/* One batch: NEWTABLE, NEWFLOWTABLE, DELTABLE in a private table. The
 * kernel checks the flowtable type (nf_flow_table) when it processes
 * NEWFLOWTABLE: ENOENT (after trying to load the module) means no support,
 * and the whole batch is aborted, so nothing changes. With support the
 * batch commits and deletes its own table: one generation bump. */
int pfd_nft_probe_flowtables(struct pfd_nft *nft)
{
	char *buf, name[32];
	struct nftnl_table *t = NULL;
	struct nftnl_flowtable *ft = NULL;
	struct nlmsghdr *nlh;
	struct mnl_nlmsg_batch *b;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct pfd_nl nl;
	uint32_t seq = (uint32_t)time(NULL);
	int acks = 0, table_err = 1, ft_err = 1, err;

	(void)nft;
	buf = calloc(1, MNL_SOCKET_BUFFER_SIZE);
	if (!buf)
		return -ENOMEM;
	b = mnl_nlmsg_batch_start(buf, MNL_SOCKET_BUFFER_SIZE);
	t = nftnl_table_alloc();
	ft = nftnl_flowtable_alloc();
	if (!b || !t || !ft) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(name, sizeof(name), "pfd_probe_%d", (int)getpid());

	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWTABLE, NFPROTO_INET,
				    NLM_F_CREATE | NLM_F_ACK, seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	mnl_nlmsg_batch_next(b);

	nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_TABLE, name);
	nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_NAME, "probe");
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_flowtable_set_s32(ft, NFTNL_FLOWTABLE_PRIO, 0);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWFLOWTABLE, NFPROTO_INET,
				    NLM_F_CREATE | NLM_F_ACK, seq++);
	nftnl_flowtable_nlmsg_build_payload(nlh, ft);
	mnl_nlmsg_batch_next(b);

	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_DELTABLE, NFPROTO_INET,
				    NLM_F_ACK, seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	mnl_nlmsg_batch_next(b);

	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq);
	mnl_nlmsg_batch_next(b);

	/* A socket of its own: the batch's acks must not meet other replies. */
	err = pfd_nl_open(&nl, NETLINK_NETFILTER, 0, false);
	if (err)
		goto out;
	if (sendto(nl.fd, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), 0,
		   (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		err = -errno;
		goto out_close;
	}
	seq -= 3; /* back to the first message with an ack: the table */
	while (acks < 3) {
		bool foreign;
		ssize_t n = pfd_nl_recv(&nl, nl.buf, PFD_NL_BUF_SIZE, &foreign);
		const struct nlmsghdr *m;
		size_t left;

		if (n == -EAGAIN)
			break; /* timed out: decide with what arrived */
		if (n < 0) {
			err = (int)n;
			goto out_close;
		}
		for (m = (const struct nlmsghdr *)nl.buf, left = (size_t)n; pfd_nl_msg_ok(m, left);
		     m = pfd_nl_next(m, &left)) {
			const struct nlmsgerr *e = NLMSG_DATA(m);

			if (m->nlmsg_type != NLMSG_ERROR ||
			    m->nlmsg_len < NLMSG_LENGTH(sizeof(e->error)) || m->nlmsg_seq < seq ||
			    m->nlmsg_seq > seq + 2)
				continue;
			acks++;
			if (m->nlmsg_seq == seq)
				table_err = e->error;
			else if (m->nlmsg_seq == seq + 1)
				ft_err = e->error;
		}
	}
	/* Without the table (EPERM, ...) the flowtable's ENOENT says nothing. */
	if (table_err < 0)
		err = table_err;
	else if (ft_err == 0)
		err = 1;
	else if (ft_err == -ENOENT || ft_err == -EOPNOTSUPP || ft_err == -EAFNOSUPPORT)
		err = 0;
	else if (ft_err < 0)
		err = ft_err;
	else
		err = -ETIMEDOUT;
out_close:
	pfd_nl_close(&nl);
out:
	if (ft)
		nftnl_flowtable_free(ft);
	if (t)
		nftnl_table_free(t);
	if (b)
		mnl_nlmsg_batch_stop(b);
	free(buf);
	return err;
}
