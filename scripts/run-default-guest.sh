#!/bin/bash
# Boots brig's default guest and shows its console.
# - On a host with hardware virtualisation (VMX/SVM): the Debian kernel and busybox
#   initramfs from the guest kit, to a shell on the serial console.
# - On a kvm_pvm host (guest kernel mode runs in an instruction emulator, so Linux
#   never reaches user space): the demo test guest, which reports what it sees of
#   brig's machine (memory map, ACPI tables, CPUs) and uses every device (serial,
#   virtio-blk on a scratch image, virtio-rng, virtio-console), then powers off.
# Either way every device runs in its own jailed process.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BRIG_BUILD_DIR:-build}
KIT=${BRIG_KIT_DIR:-/var/cache/brig/guest-kit}
BRIG=$BUILD/vmm/brig

if [ -d /sys/module/kvm_pvm ] || ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
  echo "run-default-guest: this host's /dev/kvm is kvm_pvm: guest kernel mode is emulated and Linux"
  echo "run-default-guest: cannot reach user space, so brig boots its demo test guest instead."
  echo "run-default-guest: every device runs in its own jailed process (brig policy list shows them)."
  disk=$(mktemp /tmp/brig-demo-disk.XXXXXX)
  trap 'rm -f "$disk"' EXIT
  truncate -s 1M "$disk"
  "$BRIG" run --kernel "$BUILD/tests/guest/brig-test-guest.elf" --cmdline "mode=demo" --mem 256 --cpus 2 \
    --disk "$disk" --console stdout
  exit $?
fi
echo "run-default-guest: booting the Debian guest kit to a shell (type 'poweroff -f' to stop)"
exec "$BRIG" run --kernel "$KIT/vmlinux" --initrd "$KIT/initramfs.cpio.gz" --mem 512 --cpus 2 \
  --console sink --cmdline "console=ttyS0 reboot=k panic=-1 -- /bin/sh"
