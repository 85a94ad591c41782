/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nftables over netlink (libnftnl + libmnl): the ruleset generation, every
 * flowtable with its devices, the synproxy statements, and change events
 * (NFNLGRP_NFTABLES). Used by pfd/ for mark-mode revalidation, flowtable-mode
 * discovery and syn-protect.
 */
#ifndef PFD_NFT_H
#define PFD_NFT_H

#include <stdint.h>
#include <net/if.h>
#include <linux/netfilter/nf_synproxy.h>

#define PFD_FT_MAX_DEVS	 32
#define PFD_NFT_NAME_MAX 256 /* NFT_NAME_MAXLEN */

struct pfd_flowtable {
	char table[PFD_NFT_NAME_MAX];
	char name[PFD_NFT_NAME_MAX];
	uint32_t family; /* NFPROTO_INET, _IPV4, _IPV6 */
	uint32_t hooknum;
	int32_t prio;
	uint32_t flags; /* NF_FLOWTABLE_HW_OFFLOAD, _COUNTER */
	uint32_t ndevs;
	char devs[PFD_FT_MAX_DEVS][IFNAMSIZ];
};

struct pfd_ft_list {
	uint32_t genid; /* generation the snapshot belongs to */
	uint32_t count;
	struct pfd_flowtable *items; /* malloc'd; pfd_ft_list_clear frees */
};

/* A netdev-family chain: policy that XDP would skip on that device. */
struct pfd_nft_netdev_chain {
	char table[PFD_NFT_NAME_MAX];
	char chain[PFD_NFT_NAME_MAX];
	uint32_t hooknum; /* NF_NETDEV_INGRESS or NF_NETDEV_EGRESS */
	char dev[IFNAMSIZ];
};

/* What one synproxy statement offers in its SYN-ACK: a rule's "synproxy"
 * expression or a named synproxy object, as the kernel reports it. The
 * kernel dumps all three attributes, 0 for what nft(8) left out. */
struct pfd_nft_synproxy {
	uint16_t mss;
	uint8_t wscale;
	uint32_t flags; /* NF_SYNPROXY_OPT_* bits */
};

struct pfd_nft;

int pfd_nft_open(struct pfd_nft **out);
void pfd_nft_close(struct pfd_nft *nft);

/* NFT_MSG_GETGEN. */
int pfd_nft_generation(struct pfd_nft *nft, uint32_t *genid);

/* Every flowtable of every table, consistent: the generation is read before
 * and after the dump and the dump is repeated if it changed. -EAGAIN after
 * too many tries. An empty list where the kernel has no flowtable support.
 * *out is overwritten, not freed: pfd_ft_list_clear a previous list first. */
int pfd_nft_read_flowtables(struct pfd_nft *nft, struct pfd_ft_list *out);
void pfd_ft_list_clear(struct pfd_ft_list *l);

/* Every netdev-family base chain (ingress/egress) with its device(s); one
 * row per device. *out malloc'd, *count rows. */
int pfd_nft_read_netdev_chains(struct pfd_nft *nft, struct pfd_nft_netdev_chain **out,
			       unsigned int *count);

/* Every synproxy statement of the ruleset: rule expressions ("synproxy")
 * and named synproxy objects (NFT_OBJECT_SYNPROXY, referenced or not), all
 * families, deduplicated (equal mss/wscale/flags counted once), in order of
 * first appearance (rules, then objects). Consistent like the flowtables:
 * both dumps between two equal generation reads. Fills at most max (out may
 * be NULL if max is 0); returns the number found (may exceed max), or
 * -errno (-EAGAIN: the ruleset kept changing). */
int pfd_nft_read_synproxy(struct pfd_nft *nft, struct pfd_nft_synproxy *out, unsigned int max);

/* Subscribes to NFNLGRP_NFTABLES. The fd becomes readable on every ruleset
 * change; pfd_nft_events_read drains it and returns 1 if a new generation
 * (NFT_MSG_NEWGEN) was seen, 0 if not, -ENOBUFS if events were lost (treat
 * as a change), or another negative errno. */
int pfd_nft_events_open(struct pfd_nft *nft);
int pfd_nft_events_fd(const struct pfd_nft *nft);
int pfd_nft_events_read(struct pfd_nft *nft, uint32_t *genid);

/* Whether the running kernel accepts flowtables (nf_flow_table present):
 * 1 yes, 0 no, negative errno if it could not tell. Probes with a
 * transaction that creates and deletes a flowtable in a private table. */
int pfd_nft_probe_flowtables(struct pfd_nft *nft);

/* Parsers of single messages, exposed for the unit tests (which build the
 * messages with libnftnl). Each returns 0 or -EINVAL for a malformed one. */
struct nlmsghdr;
/* NFT_MSG_NEWGEN (GETGEN reply or event): its NFTA_GEN_ID. */
int pfd_nft_parse_gen(const struct nlmsghdr *nlh, uint32_t *genid);
/* NFT_MSG_NEWFLOWTABLE. Devices past PFD_FT_MAX_DEVS are left out. */
int pfd_nft_parse_flowtable(const struct nlmsghdr *nlh, struct pfd_flowtable *ft);
/* NFT_MSG_NEWCHAIN: one row per device of a netdev-family base chain (or an
 * inet-family ingress chain, reported as NF_NETDEV_INGRESS); *n = 0 for any
 * other chain. -E2BIG if more than max rows would be needed. */
int pfd_nft_parse_chain(const struct nlmsghdr *nlh, struct pfd_nft_netdev_chain *rows,
			unsigned int max, unsigned int *n);
/* NFT_MSG_NEWRULE: one row per "synproxy" expression, in rule order;
 * NFT_MSG_NEWOBJ: one row for a synproxy object; *n = 0 for a rule without
 * one or an object of another type (other messages: -EINVAL). A missing
 * attribute reads as 0, as the kernel would take it. Not deduplicated.
 * -E2BIG if more than max rows would be needed (the first max are filled). */
int pfd_nft_parse_synproxy(const struct nlmsghdr *nlh, struct pfd_nft_synproxy *rows,
			   unsigned int max, unsigned int *n);

#endif /* PFD_NFT_H */
