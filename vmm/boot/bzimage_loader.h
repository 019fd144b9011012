// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry: the
// protected-mode part of a bzImage is copied to layout::kHighMemory and entered in long
// mode at load address + 0x200, skipping the real-mode setup code entirely.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <span>

#include "vmm/boot/host_file.h"
#include "vmm/boot/loaded_kernel.h"
#include "vmm/memory/guest_memory.h"

namespace brig::boot {

// Oldest boot protocol accepted: 2.12 is the first with xloadflags, where XLF_KERNEL_64
// promises the 64-bit entry point (it also brings cmdline_size, init_size, pref_address).
constexpr uint16_t kMinBootProtocol = 0x020c;

// True when the image carries the "HdrS" setup header signature.
bool looks_like_bzimage(std::span<const uint8_t> image);

struct BzImage {
    // The image's setup header; bytes past the header's own declared end are zero, so
    // setup code is never mistaken for header fields.
    setup_header header;
    LoadedKernel kernel;
};

// Validates the setup header and copies the protected-mode kernel into guest memory.
BzImage load_bzimage(const GuestMemory& mem, const KernelImage& image);

}  // namespace brig::boot
