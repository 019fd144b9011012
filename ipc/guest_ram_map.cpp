#include "ipc/guest_ram_map.h"

#include <algorithm>

namespace brig::ipc {

GuestRamMap::GuestRamMap(uint64_t ram_size) : size_(ram_size) {
    const uint64_t low = std::min(ram_size, kRamHoleStart);
    if (low > 0) regions_[count_++] = {0, low, 0};
    if (ram_size > low) regions_[count_++] = {kRamHoleEnd, ram_size - low, low};
}

GuestRamMap GuestRamMap::flat(uint64_t size) {
    GuestRamMap map;
    map.size_ = size;
    if (size > 0) map.regions_[map.count_++] = {0, size, 0};
    return map;
}

std::optional<uint64_t> GuestRamMap::offset_of(uint64_t addr, uint64_t len) const {
    for (const auto& r : regions()) {
        if (addr < r.guest_addr) continue;
        const uint64_t off = addr - r.guest_addr;
        if (off > r.size || len > r.size - off) continue;
        return r.offset + off;
    }
    return std::nullopt;
}

}  // namespace brig::ipc
