#include "vmm/bus/bus.h"

#include <algorithm>

#include "vmm/error.h"

namespace brig {

void Bus::insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t size) {
    if (size == 0 || base + size < base) throw HostError(name_ + " bus: bad range for " + std::string(device->name()));
    for (const auto& r : ranges_) {
        if (base < r.base + r.size && r.base < base + size)
            throw HostError(name_ + " bus: " + std::string(device->name()) + " overlaps " +
                            std::string(r.device->name()));
    }
    ranges_.push_back({base, size, std::move(device)});
    std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.base < b.base; });
}

const Bus::Range* Bus::find(uint64_t addr, uint64_t len) const {
    auto it =
        std::upper_bound(ranges_.begin(), ranges_.end(), addr, [](uint64_t a, const Range& r) { return a < r.base; });
    if (it == ranges_.begin()) return nullptr;
    --it;
    // The whole access must fall inside the range: a device never sees bytes of its neighbour.
    const uint64_t offset = addr - it->base;
    if (offset >= it->size || len > it->size - offset) return nullptr;
    return &*it;
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
    const Range* r = find(addr, data.size());
    if (!r) return false;
    r->device->read(addr - r->base, data);
    return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
    const Range* r = find(addr, data.size());
    if (!r) return false;
    r->device->write(addr - r->base, data);
    return true;
}

}  // namespace brig
