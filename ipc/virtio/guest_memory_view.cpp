#include "ipc/virtio/guest_memory_view.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>

#include "base/error.h"

namespace brig::virtio {

GuestMemoryView GuestMemoryView::map(base::UniqueFd memfd) {
    if (!memfd) throw std::runtime_error("guest memory: no memfd");
    struct stat st {};
    if (::fstat(memfd.get(), &st) != 0)
        base::throw_errno("guest memory: fstat");
    if (st.st_size <= 0) throw std::runtime_error("guest memory: the memfd is empty");
    const auto size = static_cast<uint64_t>(st.st_size);
    // The layout puts RAM above the hole from 4 GiB; the guest address space is 64-bit,
    // but keep the arithmetic below far from any wrap.
    if (size > (uint64_t{1} << 46)) throw std::runtime_error("guest memory: implausible size " + std::to_string(size));

    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    if (p == MAP_FAILED) base::throw_errno("guest memory: mmap");
    auto* host = static_cast<uint8_t*>(p);

    std::vector<Region> regions;
    const uint64_t low = std::min(size, kGuestMmioHoleStart);
    regions.push_back({0, low, host});
    if (size > low) regions.push_back({kGuestMmioHoleEnd, size - low, host + low});
    // The mapping keeps the memory; the fd is no longer needed.
    return GuestMemoryView(host, size, std::move(regions), true);
}

GuestMemoryView GuestMemoryView::for_testing(std::span<uint8_t> memory) {
    std::vector<Region> regions;
    if (!memory.empty()) regions.push_back({0, memory.size(), memory.data()});
    return GuestMemoryView(memory.data(), memory.size(), std::move(regions), false);
}

GuestMemoryView::GuestMemoryView(GuestMemoryView&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      regions_(std::move(other.regions_)),
      owned_(std::exchange(other.owned_, false)) {
    other.regions_.clear();
}

GuestMemoryView::~GuestMemoryView() {
    if (owned_ && mapping_ != nullptr) ::munmap(mapping_, size_);
}

namespace {

// The offset of [addr, addr+len) inside a region [base, base+size), or nothing. No sum
// of guest-controlled values is ever formed, so nothing can wrap.
std::optional<uint64_t> offset_in(uint64_t base, uint64_t size, uint64_t addr, uint64_t len) {
    if (addr < base) return std::nullopt;
    const uint64_t off = addr - base;
    if (off > size) return std::nullopt;
    if (len > size - off) return std::nullopt;
    return off;
}

}  // namespace

bool GuestMemoryView::contains(uint64_t addr, uint64_t len) const {
    return slice(addr, len).has_value();
}

std::optional<std::span<uint8_t>> GuestMemoryView::slice(uint64_t addr, uint64_t len) const {
    for (const auto& r : regions_) {
        if (auto off = offset_in(r.guest_addr, r.size, addr, len)) return std::span<uint8_t>(r.host + *off, len);
    }
    return std::nullopt;
}

}  // namespace brig::virtio
