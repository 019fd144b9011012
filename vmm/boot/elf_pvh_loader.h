// PVH boot: an ELF kernel (ELF64 or ELF32, x86) whose PT_NOTE segments carry the Xen
// XEN_ELFNOTE_PHYS32_ENTRY note, the 32-bit physical address at which it is entered in
// protected mode with paging off.
#pragma once

#include <cstdint>
#include <span>

#include "vmm/boot/host_file.h"
#include "vmm/boot/loaded_kernel.h"
#include "vmm/memory/guest_memory.h"

namespace brig::boot {

// True when the image starts with the ELF magic.
bool looks_like_elf(std::span<const uint8_t> image);

// Validates the ELF, finds the PVH entry note, and copies every PT_LOAD segment to its
// p_paddr (zero-filling the bss). Segments must lie in low RAM above layout::kHighMemory.
LoadedKernel load_elf_pvh(const GuestMemory& mem, const KernelImage& image);

}  // namespace brig::boot
