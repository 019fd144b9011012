// A device process's view of guest RAM: the VMM's memfd, mapped shared, laid out and
// bounds-checked by the same map as brig's (ipc/guest_ram_map.h), with overflow-safe
// arithmetic: a guest-supplied address can never reach outside guest memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "ipc/guest_ram_map.h"
#include "base/unique_fd.h"

namespace brig::virtio {

class GuestMemoryView {
public:
    // Maps `memfd` (its size is the guest RAM size). Throws std::runtime_error.
    static GuestMemoryView map(base::UniqueFd memfd);
    GuestMemoryView(GuestMemoryView&&) noexcept;
    GuestMemoryView& operator=(GuestMemoryView&&) = delete;
    ~GuestMemoryView();

    uint64_t size() const { return map_.size(); }
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
    GuestMemoryView(uint8_t* mapping, ipc::GuestRamMap map, bool owned) : mapping_(mapping), map_(map), owned_(owned) {}

    uint8_t* mapping_;
    ipc::GuestRamMap map_;
    bool owned_;
};

}  // namespace brig::virtio
