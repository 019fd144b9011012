// Test helpers for the virtio core and the devices: a fake guest (RAM in a vector, or
// over a mapped memfd), a driver-side split ring that builds chains the way a driver
// would (DriverRing), and a fixed single-ring guest for building hostile rings
// descriptor by descriptor (TestGuest). Virtio 1.2, 2.7.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtio_device.h"
#include "ipc/virtio/virtqueue.h"

namespace brig::virtio::testing {

constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;

// Writes descriptor `i` of the table at `table` (virtio 1.2, 2.7.5).
inline void write_descriptor(std::span<uint8_t> ram, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                             uint16_t flags, uint16_t next) {
    uint8_t* p = ram.data() + table + 16ull * i;
    std::memcpy(p, &addr, 8);
    std::memcpy(p + 8, &len, 4);
    std::memcpy(p + 12, &flags, 2);
    std::memcpy(p + 14, &next, 2);
}

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
            write_descriptor(guest_.ram, config_.desc_addr, d, segs[i].addr, segs[i].len, flags, next);
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

// A device's queues over driver rings in a fake guest, and a count of interrupts per
// queue: runs a device's process_queue() the way the transport would.
struct QueueHarness {
    explicit QueueHarness(unsigned queue_count) {
        for (unsigned q = 0; q < queue_count; ++q) rings.emplace_back(guest, q);
        for (auto& r : rings) queues.emplace_back(guest.memory, r.config(), 256, false);
    }
    void run(VirtioDevice& dev, unsigned queue) {
        QueueContext ctx{queues, guest.memory, [this](unsigned q) { ++signals[q]; }};
        dev.process_queue(queue, ctx);
    }

    FakeGuest guest;
    std::vector<DriverRing> rings;
    std::vector<SplitQueue> queues;
    unsigned signals[4] = {};
};

// A 1 MiB guest with one ring at fixed addresses, written descriptor by descriptor:
// for tests of the ring walker and the transport that build hostile rings by hand.
struct TestGuest : FakeGuest {
    static constexpr uint64_t kMemSize = 1 << 20;
    static constexpr uint64_t kDesc = 0x1000;
    static constexpr uint64_t kAvail = 0x2000;
    static constexpr uint64_t kUsed = 0x3000;
    static constexpr uint64_t kData = 0x10000;

    TestGuest() : FakeGuest(kMemSize) {}

    std::vector<uint8_t>& bytes = owned;
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
        write_descriptor(ram, table, i, addr, len, flags, next);
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
