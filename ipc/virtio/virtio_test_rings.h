// Test helpers: a 1 MiB guest with hand-written split rings (virtio 1.2, 2.7).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtqueue.h"

namespace brig::virtio::testing {

struct TestGuest {
    static constexpr uint64_t kMemSize = 1 << 20;
    static constexpr uint64_t kDesc = 0x1000;
    static constexpr uint64_t kAvail = 0x2000;
    static constexpr uint64_t kUsed = 0x3000;
    static constexpr uint64_t kData = 0x10000;

    std::vector<uint8_t> bytes = std::vector<uint8_t>(kMemSize);
    GuestMemoryView memory = GuestMemoryView::for_testing(bytes);
    uint16_t size = 8;
    uint16_t avail_idx = 0;

    // Zeroes guest memory, as for a driver starting from scratch.
    void clear() {
        std::fill(bytes.begin(), bytes.end(), 0);
        avail_idx = 0;
    }

    QueueConfig config() const { return QueueConfig{size, kDesc, kAvail, kUsed}; }

    template <typename T>
    void put(uint64_t addr, T v) {
        std::memcpy(bytes.data() + addr, &v, sizeof v);
    }
    template <typename T>
    T get(uint64_t addr) const {
        T v;
        std::memcpy(&v, bytes.data() + addr, sizeof v);
        return v;
    }

    void desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
        const uint64_t at = table + 16ull * i;
        put<uint64_t>(at, addr);
        put<uint32_t>(at + 8, len);
        put<uint16_t>(at + 12, flags);
        put<uint16_t>(at + 14, next);
    }
    void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
        desc_at(kDesc, i, addr, len, flags, next);
    }
    // Makes `head` available and publishes the new avail.idx.
    void make_available(uint16_t head) {
        put<uint16_t>(kAvail + 4 + 2ull * (avail_idx % size), head);
        ++avail_idx;
        put<uint16_t>(kAvail + 2, avail_idx);
    }
    void set_avail_idx(uint16_t idx) {
        avail_idx = idx;
        put<uint16_t>(kAvail + 2, idx);
    }
    void set_avail_flags(uint16_t flags) { put<uint16_t>(kAvail, flags); }
    void set_used_event(uint16_t v) { put<uint16_t>(kAvail + 4 + 2ull * size, v); }
    uint16_t used_idx() const { return get<uint16_t>(kUsed + 2); }
    uint32_t used_id(uint16_t slot) const { return get<uint32_t>(kUsed + 4 + 8ull * (slot % size)); }
    uint32_t used_len(uint16_t slot) const { return get<uint32_t>(kUsed + 8 + 8ull * (slot % size)); }
    uint16_t avail_event() const { return get<uint16_t>(kUsed + 4 + 8ull * size); }
};

}  // namespace brig::virtio::testing
