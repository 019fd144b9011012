// Where guest RAM sits in the guest's physical address space, for brig and for every
// device process that maps it: RAM up to the 32-bit MMIO hole, the rest from 4 GiB,
// backed by one memfd with the pieces back to back. brig's GuestMemory and a device's
// GuestMemoryView both translate and bounds-check guest addresses here, so the two
// can never disagree about the layout.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace brig::ipc {

// The 32-bit MMIO hole: RAM stops at 3 GiB and resumes at 4 GiB.
constexpr uint64_t kRamHoleStart = 3ull << 30;
constexpr uint64_t kRamHoleEnd = 4ull << 30;

struct RamRegion {
    uint64_t guest_addr;
    uint64_t size;
    uint64_t offset;  // in the memfd, and in a mapping of all of it
};

class GuestRamMap {
public:
    // `ram_size` bytes of RAM, split at the hole.
    explicit GuestRamMap(uint64_t ram_size);
    // One region from guest address 0, hole or not (tests over plain buffers).
    static GuestRamMap flat(uint64_t size);

    std::span<const RamRegion> regions() const { return std::span(regions_.data(), count_); }
    uint64_t size() const { return size_; }

    // Where [addr, addr+len) is in the memfd, or nothing when any byte is outside RAM.
    // No sum of guest-controlled values is ever formed, so nothing can wrap.
    std::optional<uint64_t> offset_of(uint64_t addr, uint64_t len) const;

private:
    GuestRamMap() = default;

    std::array<RamRegion, 2> regions_{};
    size_t count_ = 0;
    uint64_t size_ = 0;
};

}  // namespace brig::ipc
