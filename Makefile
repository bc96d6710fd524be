# namespacefs build and install. `make` builds the daemon (SwiftPM, the Swift
# runtime linked in statically for release), the
# container init (a libc-free static C program: it must not carry a Swift
# runtime, so SwiftPM does not link it) and the connection holder (plain C,
# no Swift runtime either: it outlives daemons of any build).
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
# nsctl is for users too (delegation): where their PATH finds it.
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
CONFIG ?= release
# A release build carries the Swift runtime inside (static): what is
# installed, and mounted at boot, needs nothing of the toolchain that built it.
SWIFT_FLAGS ?= $(if $(filter release,$(CONFIG)),--static-swift-stdlib,)
# The Swift driver leaves an empty TemporaryDirectory.* in $TMPDIR each
# time it runs (swiftc -print-target-info): ours stay in the build tree.
SWIFT_TMP := $(CURDIR)/.build/tmp
export TMPDIR := $(SWIFT_TMP)
BUILD := $(shell mkdir -p $(SWIFT_TMP) && TMPDIR=$(SWIFT_TMP) swift build -c $(CONFIG) --show-bin-path 2>/dev/null)
INIT_CFLAGS := -static -nostdlib -nostartfiles -ffreestanding -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-pie -no-pie -Os -Wall -Wextra -Werror \
	-Wl,--build-id=none -Wl,-z,noexecstack

HOLDER_CFLAGS := -O2 -Wall -Wextra -Werror

.PHONY: all build init holder relay install uninstall test clean

all: build init holder relay

build:
	swift build -c $(CONFIG) $(SWIFT_FLAGS)

init: $(BUILD)/namespacefs-init

$(BUILD)/namespacefs-init: Sources/ContainerInit/nsinit.c
	mkdir -p $(BUILD)
	$(CC) $(INIT_CFLAGS) -o $@ $<
	strip $@

holder: $(BUILD)/namespacefs-holder

$(BUILD)/namespacefs-holder: Sources/ConnectionHolder/holder.c Sources/CNamespaceShim/fd_passing.h Sources/CNamespaceShim/include/holder_protocol.h
	mkdir -p $(BUILD)
	$(CC) $(HOLDER_CFLAGS) -o $@ $<

relay: $(BUILD)/namespacefs-log-relay

$(BUILD)/namespacefs-log-relay: Sources/LogRelay/relay.c
	mkdir -p $(BUILD)
	$(CC) $(HOLDER_CFLAGS) -pthread -o $@ $<

# mount(8) looks for helpers in a sanitized PATH that has /usr/local/sbin.
install: all
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/namespacefs $(DESTDIR)$(SBINDIR)/namespacefs
	install -m 0755 $(BUILD)/namespacefs-init $(DESTDIR)$(SBINDIR)/namespacefs-init
	install -m 0755 $(BUILD)/namespacefs-holder $(DESTDIR)$(SBINDIR)/namespacefs-holder
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BUILD)/nsctl $(DESTDIR)$(BINDIR)/nsctl
	install -m 0755 $(BUILD)/namespacefs-log-relay $(DESTDIR)$(BINDIR)/namespacefs-log-relay
	rm -f $(DESTDIR)$(SBINDIR)/nsctl
	install -m 0755 $(BUILD)/nsfs-records $(DESTDIR)$(SBINDIR)/nsfs-records
	install -m 0755 $(BUILD)/nsfs-oci $(DESTDIR)$(SBINDIR)/nsfs-oci
	install -m 0644 docs/man/namespacefs.8 docs/man/nsctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(BUILD)/nsctl --generate-completion-script bash > $(DESTDIR)$(COMPLETIONDIR)/nsctl

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/namespacefs $(DESTDIR)$(SBINDIR)/namespacefs-init $(DESTDIR)$(SBINDIR)/namespacefs-holder $(DESTDIR)$(BINDIR)/nsctl $(DESTDIR)$(BINDIR)/namespacefs-log-relay $(DESTDIR)$(SBINDIR)/nsctl $(DESTDIR)$(SBINDIR)/nsfs-records $(DESTDIR)$(SBINDIR)/nsfs-oci
	rm -f $(DESTDIR)$(MANDIR)/man8/namespacefs.8 $(DESTDIR)$(MANDIR)/man8/nsctl.8 $(DESTDIR)$(COMPLETIONDIR)/nsctl

clean:
	swift package clean
