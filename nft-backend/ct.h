/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Conntrack over netlink (libmnl; parsed here, not by libnetfilter_conntrack:
 * docs/architecture.md says why): events, dumps and the few updates pfd
 * makes (timeout, TCP flags, mark). Used by pfd/flows.c.
 * Everything that arrives from the kernel is parsed into struct pfd_ct_entry
 * here, validated, and never trusted further.
 */
#ifndef PFD_CT_H
#define PFD_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

struct nlmsghdr;

/* One direction of a conntrack entry, as conntrack reports it. */
struct pfd_ct_tuple {
	__u8 family;  /* AF_INET or AF_INET6 */
	__u8 l4proto; /* IPPROTO_TCP, IPPROTO_UDP, or other */
	__u16 pad;
	__be32 src[4]; /* IPv4 uses [0] */
	__be32 dst[4];
	__be16 sport; /* 0 for protocols without ports */
	__be16 dport;
};

struct pfd_ct_entry {
	__u32 id;	/* CTA_ID */
	__u16 zone;	/* CTA_ZONE, 0 if absent */
	__u8 tcp_state; /* TCP_CONNTRACK_*; 0 (NONE) if absent */
	__u8 has_tcp_state;
	struct pfd_ct_tuple orig;
	struct pfd_ct_tuple reply;
	__u32 status; /* IPS_* bits */
	__u32 mark;
	__u32 timeout; /* seconds; 0 if absent (offloaded dumps omit it) */
	bool has_timeout;
	bool has_helper;     /* CTA_HELP present: a helper is attached */
	bool has_master;     /* CTA_TUPLE_MASTER: expected connection of a helper */
	bool has_seqadj;     /* CTA_SEQ_ADJ_* present */
	__u8 tcp_flags_orig; /* CTA_PROTOINFO_TCP_FLAGS_ORIGINAL .flags */
	__u8 tcp_flags_reply;
	__u64 orig_packets, orig_bytes; /* CTA_COUNTERS_*, if accounting is on */
	__u64 reply_packets, reply_bytes;
};

enum pfd_ct_event {
	PFD_CT_EV_NEW = 0, /* also: an entry from a dump */
	PFD_CT_EV_UPDATE,
	PFD_CT_EV_DESTROY,
};

typedef void (*pfd_ct_cb)(void *arg, enum pfd_ct_event ev, const struct pfd_ct_entry *e);

struct pfd_ct_opts {
	int rcvbuf; /* event socket receive buffer, bytes; 0 = default */
	pfd_ct_cb cb;
	void *arg;
};

struct pfd_ct_stats {
	__u64 events;	     /* messages parsed and delivered */
	__u64 malformed;     /* messages that failed validation: skipped */
	__u64 foreign;	     /* not from the kernel (nl_pid != 0): skipped */
	__u64 overruns;	     /* ENOBUFS on the event socket */
	__u64 dumps;	     /* full dumps done */
	__u64 dumped;	     /* entries the dumps delivered */
	__u64 dumps_intr;    /* dumps the kernel flagged NLM_F_DUMP_INTR */
	__u64 discarded;     /* event datagrams pfd_ct_events_flush dropped */
	__u64 update_errors; /* failed timeout/flags/mark updates */
	__u64 unknown;	     /* other message types or families: skipped */
};

struct pfd_ct;

/* Opens the event socket (NEW, UPDATE, DESTROY groups) and a request socket.
 * Changes made through this handle (pfd_ct_set_*) do not come back as
 * events: a socket filter drops them in the kernel, so that refreshing many
 * timeouts cannot overflow the event buffer. Changes by anyone else do.
 * Subscribe first, dump second: events racing the dump are delivered twice
 * at worst, and pfd's installs and removals are idempotent. */
int pfd_ct_open(struct pfd_ct **out, const struct pfd_ct_opts *opts);
void pfd_ct_close(struct pfd_ct *ct);

int pfd_ct_events_fd(const struct pfd_ct *ct);
/* The event socket's receive buffer as the kernel sized it (bytes): less
 * than pfd_ct_opts.rcvbuf means neither SO_RCVBUFFORCE nor net.core.rmem_max
 * allowed more. */
int pfd_ct_events_rcvbuf(const struct pfd_ct *ct);
/* Reads and delivers pending events without blocking (at most 1024
 * datagrams per call, so a flood cannot starve the caller's loop: the fd
 * stays readable). Returns 0, or -ENOBUFS when events were lost (counted):
 * the caller must resync with a full dump. The callback may call the
 * pfd_ct_set_* functions (they use their own socket). */
int pfd_ct_events_read(struct pfd_ct *ct);
/*
 * Discards every event queued on the event socket, until a read finds it
 * empty; a resync calls it before its dump. The kernel reports one ENOBUFS
 * per congestion: from the drop it reported until a read empties the queue,
 * further drops report nothing, so the entries whose events were dropped
 * while the dump had already passed them would be lost for good. What it
 * discards is older than the dump that follows. Returns 0, -EBUSY when
 * events kept coming for budget_ns (the queue may still be congested: the
 * caller resyncs again), or -errno.
 */
int pfd_ct_events_flush(struct pfd_ct *ct, __u64 budget_ns);

/* Full dump of both families; every entry goes to the callback as
 * PFD_CT_EV_NEW. status_mask/status_value (0/0 = all) filter in the kernel
 * where supported (CTA_STATUS + CTA_STATUS_MASK, kernel >= 5.19) and are
 * re-checked here; -EINVAL if status_value has bits outside status_mask.
 * The callback may call pfd_ct_set_*, not pfd_ct_dump. */
int pfd_ct_dump(struct pfd_ct *ct, __u32 status_mask, __u32 status_value);
/* From the pulse: the pfd_ct_dump under way delivers nothing more and
 * returns -ECANCELED (the rest of it is read and dropped). */
void pfd_ct_dump_cancel(struct pfd_ct *ct);

/* fn(arg) runs between the datagrams of dumps and batched updates (seconds
 * long at 100k entries); it must not call into this pfd_ct. */
void pfd_ct_set_pulse(struct pfd_ct *ct, void (*fn)(void *arg), void *arg);
/* Instead, for the dump socket only (call after pfd_ct_set_pulse): fn runs
 * between a dump's datagrams, when none of its records is being delivered;
 * it may read events and make updates through this pfd_ct, but must not
 * start a dump or a mark clear. */
void pfd_ct_set_dump_pulse(struct pfd_ct *ct, void (*fn)(void *arg), void *arg);

/* Updates identify the entry by its original tuple and zone (TCP and UDP
 * only: -EOPNOTSUPP otherwise); -ENOENT when it is gone. They never create
 * an entry. pfd_ct_set_timeout returns -EPERM for IPS_FIXED_TIMEOUT entries,
 * not counted in update_errors. */
int pfd_ct_set_timeout(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 seconds);
/* The timeout and, for TCP, IP_CT_TCP_FLAG_* bits cleared on both
 * directions, in one update (pfd's periodic refresh of an active flow). */
int pfd_ct_refresh(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 seconds, __u8 clear_tcp);
/* TCP only: set and clear IP_CT_TCP_FLAG_* bits on both directions. */
int pfd_ct_set_tcp_flags(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u8 set, __u8 clear);
/* New mark = (old & ~mask) | (value & mask), done by the kernel if it
 * supports CTA_MARK_MASK. */
int pfd_ct_set_mark(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 value, __u32 mask);

/* The entry with e's original tuple and zone as conntrack has it now
 * (IPCTNL_MSG_CT_GET): 0, -ENOENT, or -errno. */
int pfd_ct_get(struct pfd_ct *ct, const struct pfd_ct_entry *e, struct pfd_ct_entry *out);

/* A conntrack entry to change: its original tuple and zone. */
struct pfd_ct_ref {
	struct pfd_ct_tuple orig;
	__u16 zone;
};

/* Clears the mask bits of the mark of these entries, and MAXACK_SET of the
 * TCP ones, in batches (many messages per datagram). *cleared counts the
 * entries changed. 0 or the first -errno (entries gone meanwhile are not
 * errors). */
int pfd_ct_clear_marks_of(struct pfd_ct *ct, const struct pfd_ct_ref *refs, size_t n, __u32 mask,
			  __u64 *cleared);

/* true: leave this entry's mark alone. */
typedef bool (*pfd_ct_skip_cb)(void *arg, const struct pfd_ct_entry *e);

/* The same for every TCP/UDP entry that has any of the mask bits set and
 * that skip (may be NULL) does not claim: a full dump (both families),
 * then pfd_ct_clear_marks_of. */
int pfd_ct_clear_marks(struct pfd_ct *ct, __u32 mask, pfd_ct_skip_cb skip, void *skip_arg,
		       __u64 *cleared);

const struct pfd_ct_stats *pfd_ct_get_stats(const struct pfd_ct *ct);

/* Parses one IPCTNL_MSG_CT_NEW/DELETE message (event or dump part).
 * Returns 0, -EINVAL for a malformed one, -EOPNOTSUPP for another type.
 * Exposed for the unit tests, which feed it messages built in memory. */
int pfd_ct_parse(const struct nlmsghdr *nlh, struct pfd_ct_entry *e, enum pfd_ct_event *ev);

#endif /* PFD_CT_H */
