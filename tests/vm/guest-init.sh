#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# PID 1 inside the pfd test VM (the host's bash, over the 9p root), exec'd by
# initramfs-init.sh once everything is mounted: runs the command with the
# caller's environment, its stdout/stderr on the two virtio serial ports,
# writes its exit code to the run share, and powers off. Builtins only until
# the command, because each exec over 9p under TCG costs tens of ms.
R=/run/pfd-vm
S=$R/share

up() { local u _r; read -r u _r < /proc/uptime; echo "$1 $u" >> "$S/times"; }
off() { /bin/busybox sync; /bin/busybox poweroff -f; echo o > /proc/sysrq-trigger; sleep 30; }
up init

OUT=/dev/console ERR=/dev/console
[ -f $R/out_dev ] && read -r OUT < $R/out_dev
[ -f $R/err_dev ] && read -r ERR < $R/err_dev
read -r CWD < "$S/cwd"

# The caller's environment (minus a few), then ours.
[ -f "$S/env" ] && . "$S/env"
export HOME=/root PATH="$R/bin:${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}" PFD_VM=1

(
	for m in ${PFD_VM_MODULES:-}; do
		modprobe "$m" || echo "pfd-vm: modprobe $m failed" >&2
	done
	cd "$CWD" || exit 126
	up cmd_start
	exec bash -c "$(< "$S/cmd")"
) </dev/null >"$OUT" 2>"$ERR"
rc=$?
up cmd_end
echo "$rc" > "$S/rc"
off
