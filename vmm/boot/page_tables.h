// Identity page tables for the Linux 64-bit entry, which must start in long mode.
#pragma once

#include <cstdint>

#include "vmm/memory/guest_memory.h"

namespace brig::boot {

// Maps guest-virtual 0..4 GiB to the same physical addresses with 2 MiB pages: one PML4
// at layout::kPml4, one PDPT at layout::kPdpt, four page directories from
// layout::kPageDirs. Returns the value for CR3.
uint64_t write_identity_page_tables(const GuestMemory& mem);

}  // namespace brig::boot
