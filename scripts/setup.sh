#!/bin/bash
# Installs brig's build and test dependencies (Debian 12, as root), configures and
# builds it in build/, and prepares the Debian guest kit. Idempotent.
#   BRIG_BUILD_DIR  build directory (default: build)
#   BRIG_KIT_DIR    where the Debian guest kit goes (default: /var/cache/brig/guest-kit)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BRIG_BUILD_DIR:-build}
KIT=${BRIG_KIT_DIR:-/var/cache/brig/guest-kit}
export DEBIAN_FRONTEND=noninteractive

packages=(
  g++ gcc binutils meson ninja-build pkg-config python3
  libseccomp-dev libcap-dev capnproto libcapnp-dev libspdlog-dev nlohmann-json3-dev catch2 libcli11-dev clang-format
  acpica-tools qemu-system-x86 iproute2
  clang-14 libclang-rt-14-dev
  busybox-static cpio kmod xz-utils zstd lz4 gzip
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true -Dguest_kit="$KIT" >/dev/null
else
  meson configure "$BUILD" -Dguest_kit="$KIT" >/dev/null
fi
ninja -C "$BUILD" >/dev/null
echo "setup: built $BUILD/vmm/brig"

if [ ! -f "$KIT/vmlinux" ] || [ ! -f "$KIT/initramfs.cpio.gz" ]; then
  echo "setup: building the Debian guest kit in $KIT"
  scripts/make-guest-kit.sh "$KIT" >/dev/null
fi
echo "setup: guest kit in $KIT"
