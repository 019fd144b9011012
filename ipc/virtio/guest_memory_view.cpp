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
    if (::fstat(memfd.get(), &st) != 0) base::throw_errno("guest memory: fstat");
    if (st.st_size <= 0) throw std::runtime_error("guest memory: the memfd is empty");
    const auto size = static_cast<uint64_t>(st.st_size);
    // The layout puts RAM above the hole from 4 GiB; the guest address space is 64-bit,
    // but keep the arithmetic below far from any wrap.
    if (size > (uint64_t{1} << 46)) throw std::runtime_error("guest memory: implausible size " + std::to_string(size));

    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    if (p == MAP_FAILED) base::throw_errno("guest memory: mmap");
    auto* host = static_cast<uint8_t*>(p);

    // The mapping keeps the memory; the fd is no longer needed.
    return GuestMemoryView(host, ipc::GuestRamMap(size), true);
}

GuestMemoryView GuestMemoryView::for_testing(std::span<uint8_t> memory) {
    return GuestMemoryView(memory.data(), ipc::GuestRamMap::flat(memory.size()), false);
}

GuestMemoryView::GuestMemoryView(GuestMemoryView&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      map_(std::exchange(other.map_, ipc::GuestRamMap::flat(0))),
      owned_(std::exchange(other.owned_, false)) {}

GuestMemoryView::~GuestMemoryView() {
    if (owned_ && mapping_ != nullptr) ::munmap(mapping_, map_.size());
}

bool GuestMemoryView::contains(uint64_t addr, uint64_t len) const { return slice(addr, len).has_value(); }

std::optional<std::span<uint8_t>> GuestMemoryView::slice(uint64_t addr, uint64_t len) const {
    if (auto off = map_.offset_of(addr, len)) return std::span<uint8_t>(mapping_ + *off, len);
    return std::nullopt;
}

}  // namespace brig::virtio
