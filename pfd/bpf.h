/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BPF objects: the daemon's loaded programs and maps, the pins under bpffs,
 * attach/detach per device, and read-only access to the pinned maps for the
 * CLI (status, flows, stats work while the daemon is down).
 *
 * Pin layout under the configured bpffs root:
 *   tc/globals/pfd_{flows,tx_ports,ctl,devs,stats,block4,block6,
 *              block_stats,block_bits,synp4,synp6,synp_stats,vlans}
 *                                   maps (LIBBPF_PIN_BY_NAME;
 *                                   the directory iproute2's tc loader uses)
 *   pfd/xdp-IFNAME                  XDP bpf_link (native or generic)
 *   pfd/tc-IFNAME                   TC ingress program on IFNAME's clsact
 *   pfd/tcq-IFNAME                  same, and pfd created that clsact qdisc
 * A dot of IFNAME is spelled ':' in a pin (bpffs refuses dots; lan0.100 is
 * pfd/xdp-lan0:100).
 * The links and programs outlive the daemon; a restart adopts them and swaps
 * in the newly loaded program without a gap (bpf_link_update, tc replace).
 */
#ifndef PFD_BPF_H
#define PFD_BPF_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "pfd/abi.h"
#include "pfd/config.h"

/* Map fds; -1 when not open. */
struct pfd_maps {
	int flows;
	int tx_ports;
	int ctl;
	int devs;
	int stats;
	int block4; /* block prefixes, LPM tries per family */
	int block6;
	int block_stats; /* their counters, per CPU */
	int block_bits;	 /* the /16s they cover */
	int synp4;	 /* syn-protect services, LPM tries per family */
	int synp6;
	int synp_stats; /* SYNs to them per rule, per CPU */
	int vlans;	/* VLAN devices XDP transmits on through their parent */
};

/* Whether this kernel's XDP has the SYN cookie helpers (syn-protect). */
bool pfd_bpf_have_syncookie_helpers(void);

/* Opens the pinned maps under <bpffs>/tc/globals (read-only when rdonly).
 * -ENOENT when pfd's maps are not pinned there (never run, or detached). */
int pfd_maps_open(const char *bpffs, bool rdonly, struct pfd_maps *m);
void pfd_maps_close(struct pfd_maps *m);

/* Removes every program, link and pin pfd made under bpffs, and the clsact
 * qdiscs it added. Idempotent; logs what it removed at info level. */
int pfd_bpf_detach_all(const char *bpffs);

enum pfd_attach_kind {
	PFD_ATT_NONE = 0,
	PFD_ATT_NATIVE,	 /* XDP in the driver */
	PFD_ATT_GENERIC, /* XDP on the skb path */
	PFD_ATT_TC,	 /* TC ingress (clsact) */
};
/* "native", "generic", "tc", "none" */
const char *pfd_attach_kind_name(enum pfd_attach_kind k);

/* The daemon's side. */
struct pfd_bpf;

/* Loads the XDP and TC objects with pin_root_path <bpffs>/tc/globals,
 * reusing existing pinned maps (a restart keeps the flows), sizing pfd_flows
 * from flow-map-size when it is created. Pinned maps of another layout are
 * replaced (logged). */
int pfd_bpf_open(struct pfd_bpf **out, const struct pfd_config *cfg);
/* Closes fds; pins, links and attached programs stay. */
void pfd_bpf_close(struct pfd_bpf *b);
const struct pfd_maps *pfd_bpf_maps(const struct pfd_bpf *b);
/* Whether the kernel honours BPF_FIB_LOOKUP_MARK (probed at open). */
bool pfd_bpf_fib_mark_ok(const struct pfd_bpf *b);

/* Attaches (or adopts a pinned attachment of) the fast path on ifname.
 * PFD_ATTACH_AUTO tries native XDP, then generic, then TC, logging why each
 * was not used. *kind gets what was attached. 0 or -errno (logged). */
int pfd_bpf_attach(struct pfd_bpf *b, const char *ifname, enum pfd_attach_mode mode,
		   enum pfd_attach_kind *kind);
/* Rewrites pfd_tx_ports (the devices XDP may redirect to) for the devices
 * pfd attached: XDP-native devices always; generic ones only when no device
 * is native (a native-XDP ingress redirecting to a device without
 * ndo_xdp_xmit would drop the frame); TC-only devices never. */
int pfd_bpf_sync_tx_ports(struct pfd_bpf *b, const int *ifindex, const enum pfd_attach_kind *kind,
			  unsigned int n);
/* Removes pfd's programs from ifname and its pins. */
int pfd_bpf_detach(struct pfd_bpf *b, const char *ifname);
/* Makes the pins of the maps and attachments again where they went (removed,
 * or bpffs unmounted and mounted again): how many it made, or -EMEDIUMTYPE
 * when bpffs is not mounted there, or another -errno. */
int pfd_bpf_repin(struct pfd_bpf *b);

/* Whether bpf_fib_lookup() honours BPF_FIB_LOOKUP_MARK (6.10): one lookup
 * with the flag from xdp-bpf/pfd_probe.bpf.c. 1 yes, 0 no (the helper said
 * -EINVAL), -errno when it cannot tell. The daemon and the CLI (explain,
 * feasibility) ask the same question this one way. */
int pfd_bpf_fib_mark_probe(void);
/* What is attached to ifname by pfd, from the pins (0 = nothing). */
int pfd_bpf_attached(const char *bpffs, const char *ifname, enum pfd_attach_kind *xdp, bool *tc);
/* The device name of an attachment pin's file name (xdp-, tc-, tcq-IFNAME),
 * in ifname; NULL when the name is not one. */
const char *pfd_link_pin_ifname(const char *pin, char ifname[IFNAMSIZ]);

#endif /* PFD_BPF_H */
