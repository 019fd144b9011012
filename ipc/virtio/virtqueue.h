// The split virtqueue (virtio 1.2, 2.7), device side, for a hostile driver. The one
// place that walks guest rings: devices only see validated descriptor chains.
//
// Rules (each violation is a QueueError; the transport then sets NEEDS_RESET and the
// device stops using the queue, it never touches memory outside the guest):
// - size is a power of two, 1..max; ring addresses aligned as the spec requires and
//   every ring inside guest memory;
// - avail.idx may not run ahead of the last seen index by more than the queue size;
// - a head index is < size; a chain visits at most `size` descriptors (no loops),
//   an indirect table at most its own length, and indirect tables do not nest;
// - every buffer [addr, addr+len) lies inside guest memory, computed without overflow;
// - readable (device-read) buffers all come before writable ones;
// - a buffer has a non-zero length; a chain holds at most `size` buffers in all;
// - only the head descriptor (in the descriptor table) may be INDIRECT, only when
//   INDIRECT_DESC was negotiated, never together with NEXT; an indirect table is a
//   non-zero multiple of 16 bytes and at most `size` descriptors long.
//
// Every guest field is read exactly once into a local, then validated: the guest can
// rewrite its rings at any time and a validated value is never fetched again.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "ipc/virtio/guest_memory_view.h"

namespace brig::virtio {

class QueueError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Descriptor flags and ring flags (virtio 1.2, 2.7.5 and 2.7.6).
constexpr uint16_t kDescFlagNext = 1;
constexpr uint16_t kDescFlagWrite = 2;
constexpr uint16_t kDescFlagIndirect = 4;
constexpr uint16_t kAvailFlagNoInterrupt = 1;
constexpr uint16_t kUsedFlagNoNotify = 1;
constexpr uint16_t kMaxQueueSize = 32768;

// vring_need_event() of the spec (2.7.10): whether moving the index from old_idx to
// new_idx crossed event_idx.
constexpr bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
    return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

struct Buffer {
    uint64_t addr;
    uint32_t len;
};

struct DescriptorChain {
    uint16_t head;
    std::vector<Buffer> readable;  // driver -> device
    std::vector<Buffer> writable;  // device -> driver
    uint64_t readable_bytes() const;
    uint64_t writable_bytes() const;
};

struct QueueConfig {
    uint16_t size = 0;
    uint64_t desc_addr = 0;
    uint64_t avail_addr = 0;
    uint64_t used_addr = 0;
};

class SplitQueue {
public:
    // Throws QueueError when `config` breaks a rule above. `event_idx` and
    // `indirect_desc`: whether VIRTIO_F_RING_EVENT_IDX / VIRTIO_F_RING_INDIRECT_DESC
    // were negotiated (an INDIRECT descriptor without the feature is a QueueError).
    SplitQueue(const GuestMemoryView& memory, const QueueConfig& config, uint16_t max_size, bool event_idx,
               bool indirect_desc = true);
    // A queue the driver did not enable: pop() finds nothing, needs_interrupt() is
    // false, push_used() throws QueueError. The transport fills unused slots with it.
    static SplitQueue disabled(const GuestMemoryView& memory);

    // The next available chain, or nothing when the driver has made none available.
    // With EVENT_IDX, also publishes avail_event (= the next index the device wants).
    std::optional<DescriptorChain> pop();
    // Returns a chain to the driver with `written` bytes written into its buffers.
    // `head` must come from a chain pop() returned (< size), else QueueError.
    void push_used(uint16_t head, uint32_t written);
    // After push_used(): whether the driver wants an interrupt now (EVENT_IDX aware).
    // Call it once per batch: it remembers what it has signalled.
    bool needs_interrupt();

    bool enabled() const { return config_.size != 0; }
    uint16_t size() const { return config_.size; }

private:
    explicit SplitQueue(const GuestMemoryView& memory) : memory_(&memory), event_idx_(false), indirect_desc_(false) {}

    struct Desc;
    Desc read_desc(uint64_t table, uint32_t index) const;
    uint16_t read_avail_idx() const;
    void write_avail_event(uint16_t value) const;

    const GuestMemoryView* memory_;  // a pointer, so a queue can be move-assigned
    QueueConfig config_;
    bool event_idx_;
    bool indirect_desc_;
    uint16_t last_avail_ = 0;
    uint16_t next_used_ = 0;
    uint16_t last_signalled_used_ = 0;
};

}  // namespace brig::virtio
