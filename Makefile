# SPDX-License-Identifier: GPL-2.0-only
# pfd: one Makefile, no recursion, every output under build/.
#   make            the daemon, the BPF objects, the test programs
#   make test       tests/run (unit, datapath, integration, VM)
#   make bench      the benchmark (root; minutes)
#   make install    DESTDIR, PREFIX (/usr/local); tc objects to $(BPFDIR)
#   make deb        a Debian package (debian/), checked by lintian
#   make lint       clang-format check of every C file, man page rendering
#   make format     clang-format every C file in place
#   make fuzz       libFuzzer targets, FUZZ_S seconds each (clang; tests/fuzz/)
#   make SANITIZE=1 V=1
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

V ?= 0
ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-9s %s\n' $(1) $(2);
endif

BUILD	?= build
CC	?= gcc
CLANG	?= clang
BPFTOOL	?= bpftool
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
BPFDIR	?= /usr/lib/bpf/pfd
DOCDIR	?= $(PREFIX)/share/doc/pfd
UNITDIR	?= /etc/systemd/system
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

# pfd parses ctnetlink itself (nft-backend/ct.c; docs/architecture.md says
# why): libnetfilter_conntrack is the benchmark's, to make entries with.
PKGS		:= libbpf libmnl libnftnl
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS))
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS)) -lelf -lz
NFCT_LIBS	:= $(shell pkg-config --libs libnetfilter_conntrack)
ARCH_INC	:= /usr/include/$(shell $(CC) -dumpmachine)

CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 \
	   -fstack-protector-strong -Iinclude -I. -I$(BUILD)/skel $(PKG_CFLAGS) -MMD -MP
LDLIBS	+= $(PKG_LIBS) -lm
ifeq ($(SANITIZE),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=address,undefined
endif

# -mcpu=v3: clang 14 defaults to v1; name it so a toolchain change does not
# change codegen. -idirafter: Debian keeps asm/ under the multiarch directory.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wextra -Werror \
	      -Iinclude -I. -idirafter $(ARCH_INC) -MMD -MP

# BPF objects: the product's (xdp-bpf/, tc-bpf/) and the tests' own. A
# skeleton is generated for each, named after the file (pfd_xdp.bpf.c ->
# build/skel/pfd_xdp.skel.h, struct pfd_xdp).
BPF_PRODUCT	:= $(wildcard xdp-bpf/*.bpf.c tc-bpf/*.bpf.c)
BPF_SRCS	:= $(BPF_PRODUCT) $(wildcard tests/bpf/*.bpf.c tests/bench/*.bpf.c)
BPF_OBJS	:= $(patsubst %.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS		:= $(foreach s,$(BPF_SRCS),$(BUILD)/skel/$(notdir $(s:.bpf.c=.skel.h)))

# Userspace: everything but main.o goes into libpfd.a, which the test
# programs link too (a test that #includes a .c to reach its statics gets
# that module from itself; the archive supplies the rest).
LIB_SRCS	:= $(filter-out pfd/main.c,$(wildcard pfd/*.c nft-backend/*.c))
LIB_OBJS	:= $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
PFD_MAIN	:= $(if $(wildcard pfd/main.c),$(BUILD)/obj/pfd/main.o)

# Test and bench programs: every tests/<dir>/test_*.c and tests/bench/*.c
# with a main() is one program; other files there are #included by them.
TEST_SRCS	:= $(wildcard tests/unit/test_*.c tests/bpf/test_*.c tests/kernel/test_*.c)
BENCH_SRCS	:= $(filter-out %.bpf.c,$(wildcard tests/bench/pfd_*.c))
TEST_BINS	:= $(patsubst %.c,$(BUILD)/%,$(TEST_SRCS) $(BENCH_SRCS))

# A pass-everything XDP program for the far ends of test veths (the VM
# suite's, and the integration tests' peers that run an XDP program).
XDP_PASS_OBJ	:= $(BUILD)/tests/vm/xdp_pass.o

all: $(BUILD)/pfd $(BPF_OBJS) $(TEST_BINS) $(XDP_PASS_OBJ)

$(XDP_PASS_OBJ): tests/vm/bpf/xdp_pass.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.bpf.o: %.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

define skel_rule
$(BUILD)/skel/$(notdir $(1:.bpf.c=.skel.h)): $(patsubst %.bpf.c,$(BUILD)/%.bpf.o,$(1))
	$$(call msg,SKEL,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(BPFTOOL) gen skeleton $$< name $(notdir $(1:.bpf.c=)) > $$@
endef
$(foreach s,$(BPF_SRCS),$(eval $(call skel_rule,$(s))))

$(BUILD)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpfd.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/pfd: $(PFD_MAIN) $(BUILD)/libpfd.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libpfd.a | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libpfd.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/bench/pfd_bench: LDLIBS += $(NFCT_LIBS)

# test, demo and bench first install what a fresh machine lacks (the
# variables above were computed before that, hence the second make).
deps:
	$(Q)tools/install-deps

test check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)examples/demo/run

# The BPF objects pfd ships (the daemon embeds its own through skeletons;
# these are for loading by hand with tc, see pfd-tc(8)).
PRODUCT_OBJS	:= $(patsubst %.bpf.c,$(BUILD)/%.bpf.o,$(BPF_PRODUCT))
product-bpf: $(PRODUCT_OBJS)

install: all install-files

# What a package ships; UNITDIR empty: no unit (debian/ has its own).
install-files: $(BUILD)/pfd $(PRODUCT_OBJS)
	install -D -m 0755 $(BUILD)/pfd $(DESTDIR)$(SBINDIR)/pfd
	install -d $(DESTDIR)$(BPFDIR)
	install -m 0644 $(PRODUCT_OBJS) $(DESTDIR)$(BPFDIR)/
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(DOCDIR)/examples
	cp -r examples/. $(DESTDIR)$(DOCDIR)/examples/
	install -D -m 0644 completion/pfd.bash $(DESTDIR)$(COMPLETIONDIR)/pfd
	[ -z "$(UNITDIR)" ] || install -D -m 0644 examples/pfd.service $(DESTDIR)$(UNITDIR)/pfd.service

# A Debian package, pfd_VERSION_ARCH.deb in this directory, checked by
# lintian (debian/; debhelper and lintian come with tools/install-deps).
deb: deps
	$(Q)debian/rules clean
	$(Q)debian/rules build
	$(Q)debian/rules binary DEB_DESTDIR=$(CURDIR)
	$(Q)debian/rules clean
	$(Q)lintian --fail-on error pfd_*.deb

# clang-format is strict on the BPF code. The userspace code keeps the
# kernel's tab-aligned struct members, which clang-format 14 cannot express
# (the kernel's own .clang-format has the same gap): there it only reports.
# Every C file of the project, BPF, userspace and tests: one .clang-format.
LINT_C		:= $(sort $(wildcard include/pfd/*.h xdp-bpf/*.[ch] tc-bpf/*.[ch] nft-backend/*.[ch] \
			pfd/*.[ch] tests/*.h tests/*/*.[ch] tests/vm/bpf/*.c))
lint:
	$(Q)clang-format --dry-run --Werror $(LINT_C)
	$(Q)for m in man/*.[58]; do out=$$(LC_ALL=C.UTF-8 MANWIDTH=80 groff -man -ww -z -Tutf8 $$m 2>&1); \
		[ -z "$$out" ] || { echo "$$m: $$out"; exit 1; }; done

# Rewrites every C file in the project's style.
format:
	$(Q)clang-format -i $(LINT_C)

# libFuzzer targets, one per parser of untrusted input (tests/fuzz/fuzz_*.c).
# Built with clang into $(BUILD)/fuzz/ from objects of their own (coverage,
# ASan and UBSan instrumented, UB fatal), so $(BUILD)/obj, libpfd.a and the
# daemon are left alone. `make fuzz` runs each target for FUZZ_S seconds, one
# at a time (tests/fuzz/run), and fails on any crash; `make fuzz-build` only
# builds; `make fuzz-seeds` rewrites the committed seeds in tests/fuzz/corpus/.
FUZZ_S		?= 10
FUZZ_DIR	:= $(BUILD)/fuzz
# No -Werror on the project's sources here: warnings are the gcc build's
# gate, and a clang-only warning in code being changed must not stop
# fuzzing. The harnesses themselves get -Werror.
FUZZ_CFLAGS	:= -O1 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Iinclude -I. -I$(BUILD)/skel \
		   $(PKG_CFLAGS) -MMD -MP -fno-omit-frame-pointer \
		   -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES	:= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS	:= $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_NAMES))
FUZZ_LIB_OBJS	:= $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS))

$(FUZZ_DIR)/obj/%.o: %.c | $(SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libpfd.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libpfd.a | fuzz-deps
	$(call msg,FUZZLD,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libpfd.a \
		$(LDLIBS)

# The seed writer needs pfd_state_write() (and the log and helpers it uses),
# and nothing instrumented.
$(FUZZ_DIR)/mkseeds: tests/fuzz/mkseeds.c pfd/state.c pfd/log.c pfd/util.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -o $@ $^ $(LDLIBS)

# libFuzzer and the sanitizer runtimes are in libclang-rt-dev, which Debian's
# clang only recommends and tools/install-deps installs without recommends:
# install it when a trivial fuzzer does not link (as root, like `make test`
# installs its dependencies), else say what is missing.
fuzz-deps:
	$(Q)mkdir -p $(FUZZ_DIR)
	$(Q)check() { printf 'int LLVMFuzzerTestOneInput(const void *d, unsigned long n) { return !d && n; }\n' | \
		$(CLANG) -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ_DIR)/.runtime-check \
		2>/dev/null; }; \
	check || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		echo "fuzz: $(CLANG) cannot link libFuzzer; installing libclang-rt-dev" && \
		apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends libclang-rt-dev >/dev/null && check; } || \
	{ echo "fuzz: $(CLANG) cannot link libFuzzer (apt-get install libclang-rt-dev)" >&2; exit 1; }
	$(Q)rm -f $(FUZZ_DIR)/.runtime-check

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)FUZZ_S=$(FUZZ_S) tests/fuzz/run -b $(FUZZ_DIR) $(FUZZ_NAMES)

fuzz-seeds: $(FUZZ_DIR)/mkseeds
	$(Q)$(FUZZ_DIR)/mkseeds tests/fuzz/corpus

.PHONY: fuzz fuzz-build fuzz-deps fuzz-seeds

clean:
	rm -rf $(BUILD)

.PHONY: all deps test check bench demo install install-files product-bpf deb lint format clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
