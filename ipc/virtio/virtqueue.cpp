#include "ipc/virtio/virtqueue.h"

#include <atomic>
#include <bit>
#include <cstdio>
#include <string>

namespace brig::virtio {

// Virtio 1.x rings are little-endian; so is every host brig runs on.
static_assert(std::endian::native == std::endian::little);

namespace {

constexpr uint64_t kDescSize = 16;

[[noreturn]] void fail(const std::string& what) { throw QueueError(what); }

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

struct SplitQueue::Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

uint64_t DescriptorChain::readable_bytes() const {
    uint64_t n = 0;
    for (const auto& b : readable) n += b.len;  // at most 32768 * 4 GiB: no wrap
    return n;
}

uint64_t DescriptorChain::writable_bytes() const {
    uint64_t n = 0;
    for (const auto& b : writable) n += b.len;
    return n;
}

SplitQueue::SplitQueue(const GuestMemoryView& memory, const QueueConfig& config, uint16_t max_size, bool event_idx,
                       bool indirect_desc)
    : memory_(&memory), config_(config), event_idx_(event_idx), indirect_desc_(indirect_desc) {
    const uint16_t n = config.size;
    if (n == 0) fail("queue size 0");
    if (!std::has_single_bit(n)) fail("queue size " + std::to_string(n) + " is not a power of two");
    if (n > max_size || n > kMaxQueueSize)
        fail("queue size " + std::to_string(n) + " exceeds the maximum " + std::to_string(max_size));
    // virtio 1.2, 2.7: descriptor table 16-aligned, available ring 2-aligned, used ring 4-aligned.
    if (config.desc_addr % 16 != 0) fail("descriptor table " + hex(config.desc_addr) + " is not 16-byte aligned");
    if (config.avail_addr % 2 != 0) fail("available ring " + hex(config.avail_addr) + " is not 2-byte aligned");
    if (config.used_addr % 4 != 0) fail("used ring " + hex(config.used_addr) + " is not 4-byte aligned");
    // n <= 32768: none of these sizes can overflow. Both rings include their event field.
    const uint64_t desc_bytes = kDescSize * n;
    const uint64_t avail_bytes = 4 + 2ull * n + 2;
    const uint64_t used_bytes = 4 + 8ull * n + 2;
    if (!memory.contains(config.desc_addr, desc_bytes))
        fail("descriptor table " + hex(config.desc_addr) + "+" + hex(desc_bytes) + " is outside guest memory");
    if (!memory.contains(config.avail_addr, avail_bytes))
        fail("available ring " + hex(config.avail_addr) + "+" + hex(avail_bytes) + " is outside guest memory");
    if (!memory.contains(config.used_addr, used_bytes))
        fail("used ring " + hex(config.used_addr) + "+" + hex(used_bytes) + " is outside guest memory");
}

SplitQueue SplitQueue::disabled(const GuestMemoryView& memory) { return SplitQueue(memory); }

SplitQueue::Desc SplitQueue::read_desc(uint64_t table, uint32_t index) const {
    // Callers bound `index` by a table whose bounds were checked; read_obj checks again.
    static_assert(sizeof(Desc) == kDescSize);
    Desc d;
    if (!memory_->read_obj(table + kDescSize * index, d)) fail("descriptor outside guest memory");
    return d;
}

uint16_t SplitQueue::read_avail_idx() const {
    uint16_t idx = 0;
    if (!memory_->read_obj(config_.avail_addr + 2, idx)) fail("available ring outside guest memory");
    // Everything the driver wrote before publishing idx (ring entries, descriptors,
    // buffers) is read after this.
    std::atomic_thread_fence(std::memory_order_acquire);
    return idx;
}

void SplitQueue::write_avail_event(uint16_t value) const {
    const uint64_t at = config_.used_addr + 4 + 8ull * config_.size;
    if (!memory_->write_obj(at, value)) fail("used ring outside guest memory");
}

std::optional<DescriptorChain> SplitQueue::pop() {
    if (!enabled()) return std::nullopt;
    const uint16_t size = config_.size;

    uint16_t avail_idx = read_avail_idx();
    auto pending = static_cast<uint16_t>(avail_idx - last_avail_);
    if (pending == 0 && event_idx_) {
        // Ask to be notified at the next buffer, then look again: a buffer made available
        // between our read and the driver's check of avail_event is not lost.
        write_avail_event(last_avail_);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        avail_idx = read_avail_idx();
        pending = static_cast<uint16_t>(avail_idx - last_avail_);
    }
    if (pending == 0) return std::nullopt;
    if (pending > size)
        fail("available index " + std::to_string(avail_idx) + " ran " + std::to_string(pending) + " entries ahead of " +
             std::to_string(last_avail_) + " (queue size " + std::to_string(size) + ")");

    uint16_t head = 0;
    if (!memory_->read_obj(config_.avail_addr + 4 + 2ull * (last_avail_ % size), head))
        fail("available ring outside guest memory");
    if (head >= size) fail("head index " + std::to_string(head) + " >= queue size " + std::to_string(size));

    DescriptorChain chain;
    chain.head = head;

    uint64_t table = config_.desc_addr;
    uint32_t table_len = size;
    uint32_t index = head;
    uint32_t visited = 0;  // descriptors visited in the current table: bounds loops
    uint32_t buffers = 0;  // buffers in the whole chain
    bool indirect = false;
    bool first = true;
    for (;;) {
        if (++visited > table_len)
            fail(std::string(indirect ? "indirect " : "") + "descriptor chain from head " + std::to_string(head) +
                 " is longer than its table (" + std::to_string(table_len) + "): a loop");
        const Desc d = read_desc(table, index);  // the one read of this descriptor

        if (d.flags & kDescFlagIndirect) {
            if (indirect) fail("nested indirect descriptor in chain " + std::to_string(head));
            if (!first)
                fail("indirect descriptor inside chain " + std::to_string(head) + " (only the head may be one)");
            if (!indirect_desc_) fail("indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC");
            if (d.flags & kDescFlagNext) fail("indirect descriptor with NEXT in chain " + std::to_string(head));
            if (d.len == 0 || d.len % kDescSize != 0)
                fail("indirect table length " + std::to_string(d.len) + " is not a non-zero multiple of 16");
            if (d.len / kDescSize > size)
                fail("indirect table of " + std::to_string(d.len / kDescSize) + " descriptors exceeds queue size " +
                     std::to_string(size));
            if (!memory_->contains(d.addr, d.len))
                fail("indirect table " + hex(d.addr) + "+" + hex(d.len) + " is outside guest memory");
            table = d.addr;
            table_len = d.len / kDescSize;
            index = 0;
            visited = 0;
            indirect = true;
            first = false;
            continue;
        }
        first = false;

        if (d.len == 0) fail("zero-length buffer in chain " + std::to_string(head));
        if (!memory_->contains(d.addr, d.len))
            fail("buffer " + hex(d.addr) + "+" + hex(d.len) + " in chain " + std::to_string(head) +
                 " is outside guest memory");
        if (++buffers > size)
            fail("descriptor chain " + std::to_string(head) + " holds more buffers than the queue size");
        if (d.flags & kDescFlagWrite) {
            chain.writable.push_back({d.addr, d.len});
        } else {
            if (!chain.writable.empty()) fail("readable buffer after a writable one in chain " + std::to_string(head));
            chain.readable.push_back({d.addr, d.len});
        }

        if (!(d.flags & kDescFlagNext)) break;
        if (d.next >= table_len)
            fail("next index " + std::to_string(d.next) + " >= table size " + std::to_string(table_len) + " in chain " +
                 std::to_string(head));
        index = d.next;
    }

    ++last_avail_;
    if (event_idx_) write_avail_event(last_avail_);
    return chain;
}

void SplitQueue::push_used(uint16_t head, uint32_t written) {
    if (!enabled()) fail("push_used on a disabled queue");
    const uint16_t size = config_.size;
    if (head >= size) fail("used head " + std::to_string(head) + " >= queue size " + std::to_string(size));
    struct {
        uint32_t id;
        uint32_t len;
    } elem{head, written};
    if (!memory_->write_obj(config_.used_addr + 4 + 8ull * (next_used_ % size), elem))
        fail("used ring outside guest memory");
    ++next_used_;
    // The element is visible before the index that publishes it.
    std::atomic_thread_fence(std::memory_order_release);
    if (!memory_->write_obj(config_.used_addr + 2, next_used_)) fail("used ring outside guest memory");
}

bool SplitQueue::needs_interrupt() {
    if (!enabled()) return false;
    // Our used.idx store must be ordered before the load of the driver's
    // used_event/flags (store->load: a full fence), or a wakeup can be lost.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // The queue starts with both indices at 0, so old_idx is exact from the first call.
    const uint16_t old_idx = last_signalled_used_;
    const uint16_t new_idx = next_used_;
    last_signalled_used_ = new_idx;
    if (new_idx == old_idx) return false;  // nothing used since the last signal

    if (event_idx_) {
        uint16_t used_event = 0;
        if (!memory_->read_obj(config_.avail_addr + 4 + 2ull * config_.size, used_event))
            fail("available ring outside guest memory");
        return vring_need_event(used_event, new_idx, old_idx);
    }
    uint16_t flags = 0;
    if (!memory_->read_obj(config_.avail_addr, flags)) fail("available ring outside guest memory");
    return !(flags & kAvailFlagNoInterrupt);
}

}  // namespace brig::virtio
