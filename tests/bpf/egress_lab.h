/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by tests/bpf/test_mss.c and test_jitter.c (#included): a private lab
 * for the TC egress programs (a new network and mount namespace with its own
 * bpffs, so LIBBPF_PIN_BY_NAME pins land in a temporary directory and never
 * under the host's /sys/fs/bpf), a packet builder for Ethernet + IPv4/IPv6 +
 * TCP/UDP with an independent, full checksum computation, and per-CPU
 * counter sums.
 */
#ifndef PFD_TESTS_EGRESS_LAB_H
#define PFD_TESTS_EGRESS_LAB_H

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pfd/egress.h"
#include "t.h"

static char lab_bpffs[] = "/tmp/pfd-egress-test-XXXXXX";

/* 0, or a reason to skip everything (not root, no namespaces, no bpffs). */
static __attribute__((unused)) const char *lab_enter(void)
{
	if (geteuid() != 0)
		return "needs root (BPF_PROG_TEST_RUN, namespaces)";
	if (unshare(CLONE_NEWNET | CLONE_NEWNS))
		return "unshare(CLONE_NEWNET|CLONE_NEWNS) failed";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return "cannot make mounts private";
	if (!mkdtemp(lab_bpffs))
		return "mkdtemp failed";
	if (mount("bpf", lab_bpffs, "bpf", 0, NULL))
		return "cannot mount a private bpffs";
	/* The programs' pins go to <root>/<map name>; mirror tc's layout. */
	char dir[sizeof(lab_bpffs) + 16];
	snprintf(dir, sizeof(dir), "%s/tc", lab_bpffs);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/tc/globals", lab_bpffs);
	mkdir(dir, 0700);
	if (system("ip link set lo up"))
		return "ip link set lo up failed";
	return NULL;
}

static __attribute__((unused)) void lab_leave(void)
{
	umount2(lab_bpffs, MNT_DETACH);
	rmdir(lab_bpffs);
}

static __attribute__((unused)) const char *lab_pin_root(void)
{
	static char root[sizeof(lab_bpffs) + 16];

	snprintf(root, sizeof(root), "%s/tc/globals", lab_bpffs);
	return root;
}

/* A veth pair in the lab with an MTU; returns the ifindex of the first end. */
static __attribute__((unused)) int lab_veth(const char *name, const char *peer, int mtu)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip link add %s mtu %d type veth peer name %s mtu %d", name, mtu,
		 peer, mtu);
	if (system(cmd))
		return -1;
	return (int)if_nametoindex(name);
}

struct lab_pkt {
	unsigned char b[256];
	size_t len;
	size_t l3off, l4off;
	int family;
	uint8_t l4proto;
};

static uint32_t csum_add_bytes(uint32_t sum, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The ones' complement sum of the pseudo-header and the whole L4 segment,
 * checksum field included: 0xffff when the checksum is right. */
static uint16_t lab_l4_sum(const struct lab_pkt *p)
{
	const unsigned char *ip = p->b + p->l3off;
	size_t l4len = p->len - p->l4off;
	uint32_t sum = 0;

	if (p->family == AF_INET) {
		sum = csum_add_bytes(sum, ip + 12, 8);
	} else {
		sum = csum_add_bytes(sum, ip + 8, 32);
		sum += (uint32_t)(l4len >> 16);
	}
	sum += p->l4proto;
	sum += (uint32_t)(l4len & 0xffff);
	sum = csum_add_bytes(sum, p->b + p->l4off, l4len);
	return csum_fold(sum);
}

static size_t lab_csum_off(const struct lab_pkt *p)
{
	return p->l4off + (p->l4proto == IPPROTO_TCP ? 16 : 6);
}

/* Sets the L4 checksum from scratch. */
static void lab_fix_csum(struct lab_pkt *p)
{
	size_t off = lab_csum_off(p);
	uint16_t c;

	p->b[off] = p->b[off + 1] = 0;
	c = (uint16_t)~lab_l4_sum(p);
	p->b[off] = c >> 8;
	p->b[off + 1] = c & 0xff;
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/*
 * Ethernet + IPv4 (or IPv6, by the address family of src) + TCP with the
 * given flags and raw option bytes (padded by the caller to a multiple of 4,
 * or not, for malformed cases: doff is rounded up) + payload bytes; or UDP
 * when flags < 0.
 */
static __attribute__((unused)) void lab_build(struct lab_pkt *p, const char *src, const char *dst,
					      int sport, int dport, int flags,
					      const unsigned char *opts, size_t optlen,
					      size_t payload)
{
	unsigned char *ip, *l4;
	int v6 = strchr(src, ':') != NULL;
	size_t l4hdr, l4len, i;

	memset(p, 0, sizeof(*p));
	memcpy(p->b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p->family = v6 ? AF_INET6 : AF_INET;
	p->l4proto = flags < 0 ? IPPROTO_UDP : IPPROTO_TCP;
	p->l3off = ETH_HLEN;
	p->l4off = ETH_HLEN + (v6 ? 40 : 20);
	l4hdr = flags < 0 ? 8 : 20 + ((optlen + 3) & ~(size_t)3);
	l4len = l4hdr + payload;
	p->len = p->l4off + l4len;
	ip = p->b + p->l3off;
	l4 = p->b + p->l4off;
	if (!v6) {
		p->b[12] = 0x08, p->b[13] = 0x00;
		ip[0] = 0x45;
		ip[2] = (20 + l4len) >> 8, ip[3] = (20 + l4len) & 0xff;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = p->l4proto;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, dst, ip + 16);
		uint16_t c = (uint16_t)~csum_fold(csum_add_bytes(0, ip, 20));
		ip[10] = c >> 8, ip[11] = c & 0xff;
	} else {
		p->b[12] = 0x86, p->b[13] = 0xdd;
		ip[0] = 0x60;
		ip[4] = l4len >> 8, ip[5] = l4len & 0xff;
		ip[6] = p->l4proto;
		ip[7] = 64;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, dst, ip + 24);
	}
	l4[0] = sport >> 8, l4[1] = sport & 0xff;
	l4[2] = dport >> 8, l4[3] = dport & 0xff;
	if (flags < 0) {
		l4[4] = l4len >> 8, l4[5] = l4len & 0xff;
	} else {
		l4[4] = 0x12, l4[5] = 0x34, l4[6] = 0x56, l4[7] = 0x78; /* seq */
		if (flags & TH_ACK)
			l4[11] = 1;
		l4[12] = (uint8_t)((l4hdr / 4) << 4);
		l4[13] = (uint8_t)flags;
		l4[14] = 0xfa, l4[15] = 0xf0; /* window */
		memcpy(l4 + 20, opts, optlen);
	}
	for (i = 0; i < payload; i++)
		p->b[p->l4off + l4hdr + i] = (unsigned char)(i * 7 + 1);
	lab_fix_csum(p);
}

/* Runs prog once on p (ifindex: the skb's device; 0 = loopback). out gets the
 * packet as the program left it. Returns the program's return value, or -1. */
static __attribute__((unused)) int lab_run(int prog_fd, const struct lab_pkt *p, int ifindex,
					   struct lab_pkt *out, uint64_t *tstamp)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = (uint32_t)p->len,
		    .data_out = out->b, .data_size_out = sizeof(out->b), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx),
		    .repeat = 1);

	*out = *p;
	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		printf("  BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		return -1;
	}
	out->len = o.data_size_out;
	if (tstamp)
		*tstamp = ctx.tstamp;
	return (int)o.retval;
}

/* Sum over CPUs of slot id of a per-CPU __u64 array. */
static __attribute__((unused)) uint64_t lab_percpu_sum(int map_fd, uint32_t id)
{
	int n = libbpf_num_possible_cpus(), i;
	uint64_t vals[n > 0 ? n : 1], sum = 0;

	if (n <= 0 || bpf_map_lookup_elem(map_fd, &id, vals))
		return 0;
	for (i = 0; i < n; i++)
		sum += vals[i];
	return sum;
}

/* Deletes every entry of a map. */
static __attribute__((unused)) void lab_map_clear(int fd, size_t key_size)
{
	unsigned char key[64], next[64];

	if (key_size > sizeof(key))
		return;
	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

/* A pfd_egress_pfx_key for "ADDR/LEN". */
static __attribute__((unused)) struct pfd_egress_pfx_key lab_pfx(const char *addr, int plen,
								 uint32_t ifindex, uint8_t dir)
{
	struct pfd_egress_pfx_key k = { .ifindex = ifindex, .dir = dir };

	k.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	inet_pton(k.family, addr, k.addr);
	k.prefixlen = PFD_EGRESS_PFX_BASE + (uint32_t)plen;
	return k;
}

#endif /* PFD_TESTS_EGRESS_LAB_H */
