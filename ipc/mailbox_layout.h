// The shared page behind a SharedMailbox. Internal to ipc/ (mailbox.cpp and its tests):
// devices and the VMM use mailbox.h only.
//
// Everything here can be written by either process at any time, so each side keeps its
// own copy of the counters it owns and treats the other side's fields as hints to check:
// indices are masked, sizes and sequence numbers are compared with what was expected.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ipc/mailbox.h"

namespace brig::ipc {

constexpr uint32_t kMailboxSlots = 64;  // a power of two
constexpr uint32_t kMailboxSlotMask = kMailboxSlots - 1;
constexpr size_t kMailboxBytes = 4096;

// One queued access. Access number i (0-based) lives in slot i & kMailboxSlotMask and
// carries seq = i + 1, written last, so a slot is never mistaken for a stale one.
struct MailboxSlot {
    std::atomic<uint64_t> seq;
    uint32_t op;    // AccessOp
    uint32_t size;  // 1, 2, 4, 8
    uint64_t offset;
    uint64_t data;
};

struct MailboxLayout {
    // Written by the VMM (producer).
    alignas(64) std::atomic<uint64_t> head;  // accesses posted
    std::atomic<uint32_t> device_doorbell;   // futex: bumped to wake a sleeping device
    std::atomic<uint32_t> vmm_sleeping;      // a VMM thread is (or is about to be) in futex_wait
    std::atomic<int32_t> vmm_cpu;            // CPU of the last VMM caller (spin hint only)

    // Written by the device (consumer).
    alignas(64) std::atomic<uint64_t> tail;  // accesses handled
    std::atomic<uint32_t> vmm_doorbell;      // futex: bumped to wake a sleeping VMM thread
    std::atomic<uint32_t> device_sleeping;   // the device is (or is about to be) in futex_wait
    std::atomic<int32_t> device_cpu;         // CPU the device last ran on (spin hint only)
    // The reply to the one outstanding read (reads are serialised by the client's mutex).
    std::atomic<uint64_t> reply_seq;
    std::atomic<uint64_t> reply_data;
    std::atomic<uint32_t> reply_size;

    alignas(64) std::atomic<uint64_t> shadow[kShadowRegisters];

    alignas(64) MailboxSlot slots[kMailboxSlots];
};

static_assert(sizeof(MailboxLayout) <= kMailboxBytes);
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free,
              "the layout is shared between processes: its atomics must be lock-free");
static_assert(std::is_standard_layout_v<MailboxLayout>);

}  // namespace brig::ipc
