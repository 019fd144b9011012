// Test helper: a fake guest (RAM in a std::vector) and a driver-side split ring in it,
// so device tests can hand-build descriptor chains and read back the used ring.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtqueue.h"

namespace brig::virtio::testing {

constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;

struct FakeGuest {
    explicit FakeGuest(size_t bytes = 4 << 20) : owned(bytes), ram(owned), memory(GuestMemoryView::for_testing(ram)) {}
    // Over memory someone else owns (e.g. a mapped guest-memory memfd).
    explicit FakeGuest(std::span<uint8_t> external) : ram(external), memory(GuestMemoryView::for_testing(ram)) {}
    FakeGuest(const FakeGuest&) = delete;
    FakeGuest& operator=(const FakeGuest&) = delete;

    // Guest memory for a buffer, 16-byte aligned, from a bump allocator.
    uint64_t alloc(uint64_t len) {
        const uint64_t addr = next;
        next = (next + len + 15) & ~uint64_t{15};
        return addr;
    }
    uint64_t put(const void* data, size_t len) {
        const uint64_t addr = alloc(len);
        std::memcpy(ram.data() + addr, data, len);
        return addr;
    }
    uint64_t put(const std::string& s) { return put(s.data(), s.size()); }
    uint8_t* at(uint64_t addr) { return ram.data() + addr; }

    std::vector<uint8_t> owned;
    std::span<uint8_t> ram;
    GuestMemoryView memory;
    uint64_t next = 0x100000;  // rings live below, buffers above
};

struct Seg {
    uint64_t addr;
    uint32_t len;
    bool writable;
};

struct UsedElem {
    uint32_t id;
    uint32_t len;
};

class DriverRing {
public:
    // Ring `index` (0..15) gets its own 16 KiB area at 0x10000 + index * 0x4000.
    DriverRing(FakeGuest& guest, unsigned index, uint16_t size = 64) : guest_(guest), size_(size) {
        const uint64_t base = 0x10000 + uint64_t{index} * 0x4000;
        config_.size = size;
        config_.desc_addr = base;
        config_.avail_addr = base + 16ull * size;
        config_.used_addr = (config_.avail_addr + 6 + 2ull * size + 3) & ~uint64_t{3};
    }

    const QueueConfig& config() const { return config_; }

    // Writes the chain's descriptors and makes it available; returns its head.
    uint16_t add(const std::vector<Seg>& segs) {
        const uint16_t head = next_desc_;
        for (size_t i = 0; i < segs.size(); ++i) {
            const uint16_t d = static_cast<uint16_t>((head + i) % size_);
            const uint16_t next = static_cast<uint16_t>((d + 1) % size_);
            uint16_t flags = segs[i].writable ? kDescWrite : 0;
            if (i + 1 < segs.size()) flags |= kDescNext;
            uint8_t* p = guest_.at(config_.desc_addr + 16ull * d);
            std::memcpy(p, &segs[i].addr, 8);
            std::memcpy(p + 8, &segs[i].len, 4);
            std::memcpy(p + 12, &flags, 2);
            std::memcpy(p + 14, &next, 2);
        }
        next_desc_ = static_cast<uint16_t>((head + segs.size()) % size_);
        std::memcpy(guest_.at(config_.avail_addr + 4 + 2ull * (avail_idx_ % size_)), &head, 2);
        ++avail_idx_;
        std::memcpy(guest_.at(config_.avail_addr + 2), &avail_idx_, 2);
        return head;
    }

    uint16_t used_idx() const {
        uint16_t idx;
        std::memcpy(&idx, guest_.at(config_.used_addr + 2), 2);
        return idx;
    }
    UsedElem used(uint16_t i) const {
        UsedElem e;
        std::memcpy(&e, guest_.at(config_.used_addr + 4 + 8ull * (i % size_)), sizeof e);
        return e;
    }

private:
    FakeGuest& guest_;
    uint16_t size_;
    QueueConfig config_;
    uint16_t next_desc_ = 0;
    uint16_t avail_idx_ = 0;
};

}  // namespace brig::virtio::testing
