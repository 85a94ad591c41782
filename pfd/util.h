/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Small helpers more than one module needs: making a directory with its
 * parents, the edit distance behind "did you mean", reading a number from a
 * sysctl file.
 */
#ifndef PFD_UTIL_H
#define PFD_UTIL_H

#include <stdint.h>
#include <sys/types.h>

/* mkdir -p: the missing parents with mode parents, dir itself with mode
 * last. 0 (also when it exists), -ENAMETOOLONG or -errno. */
int pfd_mkdir_p(const char *dir, mode_t parents, mode_t last);

/* Optimal string alignment distance (a swap of two letters is one edit);
 * UINT32_MAX for strings of 63 characters or more. */
unsigned int pfd_edit_distance(const char *a, const char *b);

/* The unsigned number in a /proc/sys file: 0 and *out, or -errno (-EINVAL
 * when it holds no number). */
int pfd_read_sysctl_u32(const char *path, uint32_t *out);

#endif /* PFD_UTIL_H */
