// What the format-specific loaders hand back to load_guest_kernel.
#pragma once

#include <cstdint>

namespace brig::boot {

struct LoadedKernel {
    uint64_t entry_point;
    // First guest address above everything the kernel claims (image, bss, decompression
    // buffer): the initrd must start at or above it.
    uint64_t end;
};

struct InitrdPlacement {
    uint64_t addr;
    uint64_t size;
};

}  // namespace brig::boot
