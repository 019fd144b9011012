// A device process's view of guest RAM: the VMM's memfd, mapped shared, with the same
// layout as the VMM (RAM below the 32-bit MMIO hole, the rest from 4 GiB). Every
// access is bounds-checked against that layout with overflow-safe arithmetic: a
// guest-supplied address can never reach outside guest memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "base/unique_fd.h"

namespace brig::virtio {

// Shared with the VMM's layout (vmm/memory/layout.h static_asserts they agree).
constexpr uint64_t kGuestMmioHoleStart = 3ull << 30;
constexpr uint64_t kGuestMmioHoleEnd = 4ull << 30;

class GuestMemoryView {
public:
    // Maps `memfd` (its size is the guest RAM size). Throws std::runtime_error.
    static GuestMemoryView map(base::UniqueFd memfd);
    GuestMemoryView(GuestMemoryView&&) noexcept;
    GuestMemoryView& operator=(GuestMemoryView&&) = delete;
    ~GuestMemoryView();

    uint64_t size() const { return size_; }
    bool contains(uint64_t addr, uint64_t len) const;
    // Host view of [addr, addr+len), or nothing when any byte is outside guest RAM.
    std::optional<std::span<uint8_t>> slice(uint64_t addr, uint64_t len) const;

    // Copies a guest object into `out`, once; validate the copy, never the guest's.
    template <typename T>
    bool read_obj(uint64_t addr, T& out) const {
        static_assert(std::is_trivially_copyable_v<T>);
        auto s = slice(addr, sizeof(T));
        if (!s) return false;
        std::memcpy(&out, s->data(), sizeof(T));
        // The guest may rewrite this memory at any time: stop the compiler from
        // re-fetching a field from guest memory in place of `out` (a double fetch).
        std::atomic_signal_fence(std::memory_order_seq_cst);
        return true;
    }
    template <typename T>
    bool write_obj(uint64_t addr, const T& value) const {
        static_assert(std::is_trivially_copyable_v<T>);
        auto s = slice(addr, sizeof(T));
        if (!s) return false;
        std::memcpy(s->data(), &value, sizeof(T));
        return true;
    }

    // For tests: a view over caller-owned memory laid out from guest address 0.
    static GuestMemoryView for_testing(std::span<uint8_t> memory);

private:
    struct Region {
        uint64_t guest_addr;
        uint64_t size;
        uint8_t* host;
    };
    GuestMemoryView(uint8_t* mapping, uint64_t size, std::vector<Region> regions, bool owned)
        : mapping_(mapping), size_(size), regions_(std::move(regions)), owned_(owned) {}

    uint8_t* mapping_;
    uint64_t size_;
    std::vector<Region> regions_;
    bool owned_;
};

}  // namespace brig::virtio
