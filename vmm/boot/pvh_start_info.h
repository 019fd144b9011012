// The PVH boot information (xen/include/public/arch-x86/hvm/start_info.h), version 1:
// hvm_start_info, the module list and the memory map, all in the page at
// layout::kPvhStartInfo. EBX points at it on entry.
#pragma once

#include <cstdint>
#include <optional>

#include "vmm/boot/loaded_kernel.h"
#include "vmm/memory/guest_memory.h"

namespace brig::boot {

constexpr uint32_t kHvmStartMagic = 0x336ec578;
constexpr uint32_t kHvmStartInfoVersion = 1;  // version 1 adds the memory map

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56, "ABI: struct hvm_start_info");

struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32, "ABI: struct hvm_modlist_entry");

struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24, "ABI: struct hvm_memmap_table_entry");

struct PvhStartInfoInputs {
    uint64_t cmdline_addr;
    std::optional<InitrdPlacement> initrd;  // becomes the single module
    uint64_t rsdp_addr;
};

// Writes the start info page and returns the address of hvm_start_info.
uint64_t write_pvh_start_info(const GuestMemory& mem, const PvhStartInfoInputs& inputs);

}  // namespace brig::boot
