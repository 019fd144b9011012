// The MMIO/PIO forwarding path: a ring of accesses in one shared memfd page between
// the VMM (producer: the device's proxy, called from vCPU threads) and the device
// process (consumer). Reads wait for their reply; writes are posted and the ring keeps
// their order. Waiting is a short spin and then a futex on the shared page, which the
// measurements in ../shared/reference showed to cost ~0.4-2.5 us against ~22-55 us for
// a Cap'n Proto round trip.
//
// The device is not trusted: every reply is checked (sequence number, size) and a bad
// one, a timeout or a dead peer becomes a MailboxError, never a hang or a crash.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>

#include "base/unique_fd.h"

namespace brig::ipc {

class MailboxError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class AccessOp : uint32_t { Read = 1, Write = 2 };

struct Access {
    AccessOp op;
    uint32_t size;    // 1, 2, 4 or 8
    uint64_t offset;  // relative to the device's range
    uint64_t data;    // write data, little-endian in the low `size` bytes
};

// Registers the device publishes for the proxy to serve without a round trip.
constexpr unsigned kShadowRegisters = 8;

struct MailboxLayout;  // in shared memory; defined in mailbox_layout.h

class SharedMailbox {
public:
    static SharedMailbox create();                      // VMM: a new sealed memfd
    static SharedMailbox attach(base::UniqueFd memfd);  // device: checks size and seals, maps
    SharedMailbox(SharedMailbox&&) noexcept;
    SharedMailbox& operator=(SharedMailbox&&) = delete;
    ~SharedMailbox();

    int fd() const { return fd_.get(); }
    MailboxLayout* layout() const { return layout_; }

private:
    SharedMailbox(base::UniqueFd fd, MailboxLayout* layout) : fd_(std::move(fd)), layout_(layout) {}
    base::UniqueFd fd_;
    MailboxLayout* layout_;
};

// VMM side. Thread-safe: vCPU threads share one client per device.
class MailboxClient {
public:
    // `spin`: how long a caller busy-waits for the device before sleeping on the futex
    // (skipped when the device last ran on the caller's CPU).
    explicit MailboxClient(const SharedMailbox& mailbox, std::chrono::milliseconds reply_timeout,
                           std::chrono::microseconds spin = std::chrono::microseconds(50));

    // Queues a write and returns; blocks only while the ring is full.
    void post_write(uint64_t offset, uint32_t size, uint64_t data);
    // Waits for every earlier write, then for this read's reply.
    uint64_t read(uint64_t offset, uint32_t size);
    // Waits until every queued write has been handled, then returns shadow `index`.
    uint64_t read_shadow(unsigned index);
    // Shadow `index` as it is now, without waiting for anything: for reports, which a
    // stalled device must not hold up. 0 for an index out of range.
    uint64_t peek_shadow(unsigned index) const;
    // Any thread: wakes every waiter; they and all later calls throw MailboxError.
    void mark_peer_dead();
    // Any thread, without waiting: whether an access posted has not been handled yet,
    // by the device's counter (a hint: the supervisor's hang check reads it).
    bool owes_answer() const;

private:
    void check_size(uint32_t size) const;
    uint64_t enqueue(AccessOp op, uint64_t offset, uint32_t size, uint64_t data);  // mutex_ held
    void wait_handled(uint64_t count, const char* what);                           // mutex_ held
    void throw_if_dead() const;

    MailboxLayout* layout_;
    std::chrono::milliseconds reply_timeout_;
    std::chrono::microseconds spin_;
    std::mutex mutex_;
    uint64_t head_ = 0;                // our own count of posted accesses; the shared copy is only a hint
    std::atomic<uint64_t> posted_{0};  // head_, for owes_answer() on other threads
    std::atomic<bool> peer_dead_{false};
};

// Device side. One thread serves; others may publish shadows.
class MailboxServer {
public:
    using Handler = std::function<uint64_t(const Access&)>;  // returns read data (ignored for writes)

    // `spin`: how long serve() busy-waits for the next access before sleeping (skipped
    // when the VMM caller last ran on this CPU).
    explicit MailboxServer(const SharedMailbox& mailbox,
                           std::chrono::microseconds spin = std::chrono::microseconds(30));

    // Serves accesses in order until stop() is called. Spins briefly after each access
    // before sleeping, so bursts (a UART's status poll and data write) stay fast.
    void serve(const Handler& handler);
    void stop();
    void publish_shadow(unsigned index, uint64_t value);
    // Makes the next handled access end in a malformed reply. Only brig-device-test's
    // hooks call this, so the tests can prove the VMM survives a lying device.
    void inject_malformed_reply_for_testing() { malformed_reply_requested_ = true; }

private:
    bool wait_for_work();  // false once stop() was called

    MailboxLayout* layout_;
    std::chrono::microseconds spin_;
    uint64_t tail_ = 0;  // our own count of handled accesses
    std::atomic<bool> stop_{false};
    std::atomic<bool> malformed_reply_requested_{false};
};

}  // namespace brig::ipc
