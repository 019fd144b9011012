// The Linux "zero page" (struct boot_params) at layout::kZeroPage: everything a 64-bit
// bzImage learns from its loader.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <optional>

#include "vmm/boot/loaded_kernel.h"
#include "vmm/memory/guest_memory.h"

namespace brig::boot {

struct ZeroPageInputs {
    setup_header header;  // as read from the image
    uint64_t cmdline_addr;
    std::optional<InitrdPlacement> initrd;
    uint64_t rsdp_addr;
};

// Writes boot_params at layout::kZeroPage and returns that address.
uint64_t write_zero_page(const GuestMemory& mem, const ZeroPageInputs& inputs);

}  // namespace brig::boot
