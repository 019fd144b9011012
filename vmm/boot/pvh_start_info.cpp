#include "vmm/boot/pvh_start_info.h"

#include <stdexcept>
#include <vector>

#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

// Page layout: [start info][one module entry][memory map ...], each part 64-byte aligned.
constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kStartInfoAddr = layout::kPvhStartInfo;
constexpr uint64_t kModlistAddr = kStartInfoAddr + 64;
constexpr uint64_t kMemmapAddr = kModlistAddr + 64;
constexpr uint64_t kMaxMemmapEntries = (layout::kPvhStartInfo + kPageSize - kMemmapAddr) / sizeof(HvmMemmapEntry);
static_assert(sizeof(HvmStartInfo) <= kModlistAddr - kStartInfoAddr);
static_assert(sizeof(HvmModlistEntry) <= kMemmapAddr - kModlistAddr);

}  // namespace

uint64_t write_pvh_start_info(const GuestMemory& mem, const PvhStartInfoInputs& inputs) {
    const auto e820 = build_e820_map(mem);
    if (e820.size() > kMaxMemmapEntries) throw std::logic_error("e820 map does not fit in the PVH start info page");

    std::vector<HvmMemmapEntry> memmap;
    for (const auto& e : e820) memmap.push_back({e.addr, e.size, e.type, 0});
    mem.write(kMemmapAddr,
              std::span(reinterpret_cast<const uint8_t*>(memmap.data()), memmap.size() * sizeof(HvmMemmapEntry)));

    HvmStartInfo info{};
    info.magic = kHvmStartMagic;
    info.version = kHvmStartInfoVersion;
    info.cmdline_paddr = inputs.cmdline_addr;
    info.rsdp_paddr = inputs.rsdp_addr;
    info.memmap_paddr = kMemmapAddr;
    info.memmap_entries = static_cast<uint32_t>(memmap.size());
    if (inputs.initrd) {
        mem.write_obj(kModlistAddr, HvmModlistEntry{inputs.initrd->addr, inputs.initrd->size, 0, 0});
        info.nr_modules = 1;
        info.modlist_paddr = kModlistAddr;
    }
    mem.write_obj(kStartInfoAddr, info);
    return kStartInfoAddr;
}

}  // namespace brig::boot
