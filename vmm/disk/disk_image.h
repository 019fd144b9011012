// A --disk image as brig hands it to a virtio-blk device: opened, checked and locked.
// A raw image only: brig recognises the common container formats by their magic so
// that a qcow2 or VMDK file is refused instead of being shown to the guest as raw
// bytes, and an image is locked so that two writers (two --disk of one path, or two
// VMs) can never corrupt it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "vmm/cli/cli.h"
#include "base/unique_fd.h"

namespace brig::disk {

constexpr uint64_t kSectorSize = 512;
// Enough of the image's start for every magic in the format table.
constexpr size_t kHeaderBytes = 512;

// The name of the image format whose magic `header` (the image's first bytes) carries,
// among those brig recognises and does not support, or nothing (raw, as far as brig knows).
std::optional<std::string_view> unsupported_format(std::span<const uint8_t> header);

// Opens `disk` (O_RDWR, or O_RDONLY for ,ro) and locks it: exclusively when writable,
// shared when read-only. Throws InvalidArgument ("--disk: PATH ...", exit 35) for an
// image in use, in a format brig does not support, or whose size is not whole sectors.
base::UniqueFd open_image(const DiskOption& disk);

}  // namespace brig::disk
