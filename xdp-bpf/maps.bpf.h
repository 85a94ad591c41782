/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fast path's maps, exactly as include/pfd/abi.h names them. All are
 * BTF-typed (bpftool map dump shows field names) and pinned by name, so that
 * pfd (which opens every object with pin_root_path = <bpffs>/tc/globals) and
 * a tc filter loaded by hand share one set. Included by the XDP and TC
 * entries through fastpath.bpf.h (the entry's context shim comes first:
 * only XDP objects carry the devmap).
 */
#ifndef PFD_MAPS_BPF_H
#define PFD_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <pfd/abi.h>

/* One entry per direction of an offloaded conntrack entry. pfd sizes it with
 * bpf_map__set_max_entries() from pfd.conf before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pfd_flow_key);
	__type(value, struct pfd_flow);
	__uint(max_entries, PFD_MAX_FLOWS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_flows SEC(".maps");

#ifdef PFD_HOOK_XDP_ONLY
/*
 * Egress devices pfd attached to. Only those: a device without XDP transmit
 * support silently drops what is redirected to it. XDP only, so that TC
 * objects (hand-loaded ones included) never create or reuse it.
 *
 * Adoption trap: the kernel adds BPF_F_RDONLY_PROG to every devmap it creates
 * (dev_map_init_map()) but refuses the flag from userspace, so libbpf 1.1's
 * map_is_reuse_compat() never matches a pinned devmap ("parameter mismatch").
 * A loader that finds the pin either adds the flag to the definition before
 * load (pfd/bpf.c) or clears the pin path and bpf_map__reuse_fd()s the pin
 * (tests/bpf/lab.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, PFD_MAX_DEVS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_tx_ports SEC(".maps");

/* VLAN devices XDP transmits on through their parent (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct pfd_vlan);
	__uint(max_entries, PFD_MAX_DEVS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_vlans SEC(".maps");
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct pfd_ctl);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct pfd_dev);
	__uint(max_entries, PFD_MAX_DEVS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_devs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct pfd_counter);
	__uint(max_entries, PFD_STATS_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_stats SEC(".maps");

/* Block prefixes: longest match wins, so a dry-run prefix inside a
 * dropping one (or the reverse) decides for its own addresses. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pfd_block_key4);
	__type(value, struct pfd_block);
	__uint(max_entries, PFD_MAX_BLOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pfd_block_key6);
	__type(value, struct pfd_block);
	__uint(max_entries, PFD_MAX_BLOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct pfd_counter);
	__uint(max_entries, PFD_MAX_BLOCKS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_block_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, PFD_BLOCK_BITS_WORDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_block_bits SEC(".maps");

/* syn-protect services: destination port, then address (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pfd_synp_key4);
	__type(value, struct pfd_synp);
	__uint(max_entries, PFD_MAX_SYNP);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_synp4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pfd_synp_key6);
	__type(value, struct pfd_synp);
	__uint(max_entries, PFD_MAX_SYNP);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_synp6 SEC(".maps");

/* SYNs to a syn-protect rule's services, per rule (answered or not). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct pfd_counter);
	__uint(max_entries, PFD_MAX_SYNP_RULES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_synp_stats SEC(".maps");

#endif /* PFD_MAPS_BPF_H */
