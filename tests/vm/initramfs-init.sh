#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the pfd-vm initramfs (static busybox, runs from RAM, so it does all
# the set-up work: every exec over 9p under TCG costs tens of ms).
# Mounts the host root read-only over 9p, tmpfs over the few places that must
# be writable, the run share and the current directory read-write, the pseudo
# filesystems (proc, sys, dev, devpts, bpffs, debugfs, tracefs, cgroup2),
# points module loading at the Debian kernel's modules, then switch_root's
# into guest-init.sh (a file of the host, run by the host's bash as PID 1).
/bin/busybox --install -s /bin
export PATH=/bin

die() {
	echo "pfd-vm-initramfs: $*" >&2
	echo "initramfs: $*" > /share/error 2>/dev/null
	poweroff -f
	sleep 5
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r m; do
	insmod /lib/$m.ko || die "insmod $m failed"
done < /lib/order

O="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$O" hostrun /share || die "mount hostrun failed"
mount -t 9p -o "$O,ro,cache=loose" hostroot /newroot || die "mount hostroot failed"

KVER=$(uname -r)
read -r MODROOT < /share/modroot
read -r CWD < /share/cwd
read -r GINIT < /share/guest_init
N=/newroot

# The guest kernel's modules live in the host cache (under /tmp, which gets a
# tmpfs below): bind their root away first.
mount -o bind "$N$MODROOT" /modroot || die "bind modroot ($MODROOT) failed"
[ -d "/modroot/lib/modules/$KVER" ] || die "no modules for $KVER under $MODROOT"

# Writable, guest-private places.
for d in run:755 tmp:1777 var/tmp:1777 root:700; do
	[ -d "$N/${d%:*}" ] && mount -t tmpfs -o mode=${d#*:} tmpfs "$N/${d%:*}"
done
R=$N/run/pfd-vm
mkdir -p $R/share $R/modroot $R/bin
mount -o move /share $R/share
mount -o move /modroot $R/modroot

# The current directory, read-write (it may be under /tmp: make the mount
# point inside the tmpfs).
if [ "$CWD" != "/" ] && [ -n "$CWD" ]; then
	mkdir -p "$N$CWD" 2>/dev/null
	mount -t 9p -o "$O" hostcwd "$N$CWD" || die "mount hostcwd ($CWD) failed"
fi

mount -o move /proc $N/proc
mount -o move /sys $N/sys
mount -o move /dev $N/dev
mkdir -p $N/dev/pts $N/dev/shm $N/dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $N/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $N/dev/shm
ln -sfn /proc/self/fd $N/dev/fd
ln -sfn /proc/self/fd/0 $N/dev/stdin
ln -sfn /proc/self/fd/1 $N/dev/stdout
ln -sfn /proc/self/fd/2 $N/dev/stderr
mount -t bpf -o mode=700 bpf $N/sys/fs/bpf
mount -t debugfs debugfs $N/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $N/sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 $N/sys/fs/cgroup 2>/dev/null

# modprobe/modinfo for the guest kernel: the host root has no
# /lib/modules/$KVER (and is read-only), so wrap kmod with -d/-b.
printf '#!/bin/sh\nexec /sbin/modprobe -d /run/pfd-vm/modroot "$@"\n' > $R/bin/modprobe
printf '#!/bin/sh\nexec /sbin/modinfo -b /run/pfd-vm/modroot "$@"\n' > $R/bin/modinfo
chmod 755 $R/bin/modprobe $R/bin/modinfo
echo /run/pfd-vm/bin/modprobe > $N/proc/sys/kernel/modprobe

echo pfd-vm > $N/proc/sys/kernel/hostname
ip link set lo up

# The virtio serial ports for the command's stdout/stderr (the host announces
# them asynchronously: wait up to 2 s for both).
i=0
while [ $i -lt 40 ]; do
	out='' err=''
	for n in $N/sys/class/virtio-ports/*/name; do
		[ -f "$n" ] || continue
		read -r pname < "$n"
		p=${n%/name}; p=/dev/${p##*/}
		[ -c "$N$p" ] || continue
		case "$pname" in
			pfd-vm.out) out=$p ;;
			pfd-vm.err) err=$p ;;
		esac
	done
	[ -n "$out" ] && [ -n "$err" ] && break
	sleep 0.05; i=$((i + 1))
done
if [ -n "$out" ] && [ -n "$err" ]; then
	echo "$out" > $R/out_dev; echo "$err" > $R/err_dev
else
	echo "pfd-vm-initramfs: no virtio serial ports; output goes to the console log" >&2
fi

exec switch_root $N "$GINIT"
