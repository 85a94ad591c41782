/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The offload decision, as a pure function: given the configuration, one
 * conntrack entry and what is known about its environment (resolved devices,
 * policy probes), offload or not, and why. The same code decides in the
 * daemon and answers `pfd explain`. Also here: the map entries for both
 * directions of an offloaded entry (keys and NAT rewrites, derived from the
 * conntrack tuples exactly as the kernel's NAT does).
 *
 * pfd_policy_env_probe() fills the environment from the kernel (rtnetlink,
 * nftables); the unit tests fill it by hand.
 */
#ifndef PFD_POLICY_H
#define PFD_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "pfd/abi.h"
#include "pfd/config.h"
#include "nft-backend/ct.h"

struct pfd_rt;
struct pfd_nft;

/* Arrays of two below are indexed by direction: [0] original, [1] reply. */

/* What pfd knows about one device. */
struct pfd_policy_dev {
	int ifindex;	     /* 0: unknown */
	bool attached;	     /* pfd's fast path is attached (XDP or TC) */
	bool has_xdp;	     /* ... as XDP */
	bool has_tc;	     /* ... as TC ingress */
	bool netdev_chain;   /* an nft netdev-family ingress chain hooks it */
	bool egress_chain;   /* an nft netdev-family egress chain hooks it:
				 * neither an XDP redirect nor a bpf_redirect
				 * from TC ingress passes it (nf_skip_egress) */
	bool egress_policy;  /* tc egress filter or non-default root qdisc:
				 * a bpf_redirect from TC ingress goes through it */
	bool ingress_policy; /* tc ingress filter other than pfd's */
	int xdp_xmit;	     /* 1: takes XDP-redirected frames (netdev
				 * xdp-features NDO_XMIT), 0: does not, < 0:
				 * unknown (no netdev family, probe failed) */
	int flowtable;	     /* flowtable mode: index of a flowtable it is in, -1 none */
	int vlan_parent;     /* a VLAN device XDP may transmit on (pfd_vlans):
			      * its parent's ifindex, else 0 */
	bool vlan_xdp;	     /* ... and that parent takes XDP frames now, with
			      * no egress policy XDP would skip: XDP pushes
			      * the tag and leaves by the parent */
};

/* A device set: every device pfd attached to, with its pfd_dev flags. */
struct pfd_policy_devs {
	unsigned int n;
	struct {
		int ifindex;
		uint32_t flags;	 /* PFD_DEV_F_* */
		int vlan_parent; /* pfd_vlans: its parent, else 0 */
	} d[PFD_MAX_DEVS];
};

struct pfd_policy_env {
	enum pfd_mode mode; /* resolved: PFD_MODE_MARK or PFD_MODE_FLOWTABLE */
	/* Resolved per direction: in = the device that direction's packets
	 * arrive on, out = the one they leave by. route_err[d] != 0: could
	 * not resolve (-errno). */
	struct pfd_policy_dev in[2], out[2];
	int route_err[2];
	/* the next hop each direction leaves to: its gateway, all zero when
	 * the destination is on-link (the neighbour pfd keeps fresh) */
	__be32 gw[2][4];
	/* flowtable mode: both devices in one flowtable (pfd_nft_read_flowtables) */
	bool same_flowtable;
	int fwmark_rules; /* 1: ip rules with fwmark exist for the family */
	bool fib_mark_ok; /* BPF_FIB_LOOKUP_MARK works here */
	int xfrm;	  /* 1: an xfrm policy covers the flow */
	bool map_full;	  /* informational: installs failed for capacity */
};

#define PFD_POLICY_REASON_MAX 160

struct pfd_policy_decision {
	bool offload;
	char reason[PFD_POLICY_REASON_MAX]; /* why (not); "eligible" when offloaded */
	uint32_t flags;			    /* PFD_FLOW_F_* common to both directions */
	uint32_t dir_flags[2];		    /* PFD_FLOW_F_* per direction (VIA_TC) */
	uint32_t fib_mark;		    /* with PFD_FLOW_F_FIB_MARK */
	bool via_tc_xmit;		    /* VIA_TC because an egress device cannot
					 * take XDP frames (not for its policy) */
};

/* Stage 1: what the conntrack entry alone decides (mode match, state,
 * helpers, status bits, prefixes, min-packets). Cheap; the daemon runs it
 * before resolving devices. true: go on to stage 2. */
bool pfd_policy_check_entry(const struct pfd_config *cfg, enum pfd_mode mode,
			    const struct pfd_ct_entry *e, struct pfd_policy_decision *out);

/* The whole decision: stage 1, then the environment (devices attached,
 * policy outside the forward chain, fwmark, xfrm). */
void pfd_policy_decide(const struct pfd_config *cfg, const struct pfd_ct_entry *e,
		       const struct pfd_policy_env *env, struct pfd_policy_decision *out);

/* Fills env for e: routes resolved with pfd_rt_route_oif (orig ingress =
 * route back to orig.src; orig egress = route to reply.src from
 * reply.dst with iif = orig ingress; reply mirrors), attached flags from
 * devs, tc/netdev/xfrm/fwmark probes. nft may be NULL (no netdev-chain
 * check). ft: flowtable mode's flowtables (NULL in mark mode). */
struct pfd_ft_list;
int pfd_policy_env_probe(struct pfd_rt *rt, struct pfd_nft *nft, const struct pfd_ft_list *ft,
			 const struct pfd_policy_devs *devs, enum pfd_mode mode, bool fib_mark_ok,
			 const struct pfd_ct_entry *e, struct pfd_policy_env *env);

/* The pieces of pfd_policy_env_probe, for callers that cache:
 * routes only (in/out/route_err), attached flags from a device set, and
 * whether two devices share a flowtable. */
int pfd_policy_resolve(struct pfd_rt *rt, const struct pfd_ct_entry *e, struct pfd_policy_env *env);
/* The same four route questions through route (a cache, say): the
 * answer to "family, dst from src entering by iif (0: none), with l4 (NULL:
 * no ports)": 0 with *oif (and *gw when not NULL), or -errno. */
struct pfd_rt_l4;
typedef int (*pfd_policy_route_fn)(void *arg, int family, const __be32 *dst, const __be32 *src,
				   int iif, const struct pfd_rt_l4 *l4, int *oif, __be32 *gw);
int pfd_policy_resolve_by(pfd_policy_route_fn route, void *arg, const struct pfd_ct_entry *e,
			  struct pfd_policy_env *env);
void pfd_policy_dev_attached(const struct pfd_policy_devs *devs, struct pfd_policy_dev *dev);
bool pfd_policy_same_flowtable(const struct pfd_ft_list *ft, int a, int b);

/* One device's policy facts (tc filters and qdiscs, nft netdev chains, XDP
 * transmit capability), with one error rule for the daemon and `pfd
 * explain` alike: a probe that fails counts as policy present, an unknown
 * capability as unknown (the decision treats it as "cannot"). chains: the
 * nft netdev chains, chains_err != 0 if they could not be read. */
struct pfd_nft_netdev_chain;
void pfd_policy_probe_dev(struct pfd_rt *rt, const struct pfd_nft_netdev_chain *chains,
			  unsigned int nchains, int chains_err, struct pfd_policy_dev *dev);

/* Loads a device set from the pfd_devs map fd. */
int pfd_policy_devs_load(int devs_fd, int vlans_fd, struct pfd_policy_devs *devs);
/* Whether XDP may transmit on the VLAN device vlan through its probed
 * parent (vlan->vlan_xdp): the parent has pfd's XDP, takes XDP frames and
 * has no egress policy or netdev egress chain an XDP redirect would skip. */
void pfd_policy_vlan_parent(struct pfd_policy_dev *vlan, const struct pfd_policy_dev *parent);
const uint32_t *pfd_policy_devs_find(const struct pfd_policy_devs *devs, int ifindex);

/* The map entries for both directions: key[d] is direction d's tuple as it
 * arrives (ingress ifindex env->in[d]), val[d] its NAT rewrite (from the
 * opposite direction's tuple), oif env->out[d], flags from the decision;
 * val[1] (reply) carries PFD_FLOW_F_REPLY. Counters zero. */
void pfd_policy_build(const struct pfd_ct_entry *e, const struct pfd_policy_env *env,
		      const struct pfd_policy_decision *d, struct pfd_flow_key key[2],
		      struct pfd_flow val[2]);

#endif /* PFD_POLICY_H */
