// The guest's physical memory map as firmware would report it through e820.
#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

std::vector<E820Entry> build_e820_map(const GuestMemory& mem) {
    std::vector<E820Entry> map;
    // Conventional memory ends where the EBDA begins, as on a PC.
    map.push_back({0, layout::kEbdaStart, kE820Ram});
    // EBDA, legacy video/ROM window and the ACPI tables at kAcpiTables: never RAM to the guest,
    // or it would allocate over the tables it still has to parse.
    map.push_back({layout::kEbdaStart, layout::kHighMemory - layout::kEbdaStart, kE820Reserved});
    map.push_back({layout::kHighMemory, mem.low_ram_end() - layout::kHighMemory, kE820Ram});
    for (const auto& region : mem.regions()) {
        if (region.guest_addr >= layout::kMmioHoleEnd) map.push_back({region.guest_addr, region.size, kE820Ram});
    }
    return map;
}

}  // namespace brig::boot
