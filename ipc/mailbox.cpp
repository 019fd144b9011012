#include "ipc/mailbox.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <new>
#include <string>

#include "base/error.h"
#include "ipc/mailbox_layout.h"

namespace brig::ipc {

namespace {

constexpr unsigned kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// Shared (not FUTEX_PRIVATE) operations: the word lives in a mapping two processes share.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    // EAGAIN (the word moved on), EINTR and ETIMEDOUT all send the caller back to recheck.
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) {
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void cpu_relax() { __builtin_ia32_pause(); }

uint64_t mask_to_size(uint64_t value, uint32_t size) {
    return size >= 8 ? value : value & ((uint64_t{1} << (size * 8)) - 1);
}

bool valid_size(uint32_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

// Spinning only helps when the peer runs on another CPU; on ours it would steal its time.
bool worth_spinning(const std::atomic<int32_t>& peer_cpu) {
    const int self = ::sched_getcpu();
    return self < 0 || peer_cpu.load(std::memory_order_relaxed) != self;
}

MailboxLayout* map_layout(int fd) {
    void* p = ::mmap(nullptr, kMailboxBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) base::throw_errno("mailbox: mmap");
    return static_cast<MailboxLayout*>(p);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// SharedMailbox

SharedMailbox SharedMailbox::create() {
    base::UniqueFd fd(::memfd_create("brig-mailbox", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) base::throw_errno("mailbox: memfd_create");
    if (::ftruncate(fd.get(), kMailboxBytes) != 0) base::throw_errno("mailbox: ftruncate");
    if (::fcntl(fd.get(), F_ADD_SEALS, kRequiredSeals) != 0) base::throw_errno("mailbox: F_ADD_SEALS");
    MailboxLayout* layout = map_layout(fd.get());
    // A fresh memfd reads as zeroes; construct the atomics in place on top of them.
    new (layout) MailboxLayout{};
    return SharedMailbox(std::move(fd), layout);
}

SharedMailbox SharedMailbox::attach(base::UniqueFd memfd) {
    struct stat st {};
    if (::fstat(memfd.get(), &st) != 0) base::throw_errno("mailbox: fstat");
    if (!S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(kMailboxBytes))
        throw MailboxError("mailbox: the shared file is not a " + std::to_string(kMailboxBytes) + "-byte memfd");
    const int seals = ::fcntl(memfd.get(), F_GET_SEALS);
    if (seals < 0) base::throw_errno("mailbox: F_GET_SEALS");
    if ((static_cast<unsigned>(seals) & kRequiredSeals) != kRequiredSeals)
        throw MailboxError("mailbox: the shared memfd is not sealed against resizing");
    MailboxLayout* layout = map_layout(memfd.get());
    return SharedMailbox(std::move(memfd), layout);
}

SharedMailbox::SharedMailbox(SharedMailbox&& other) noexcept
    : fd_(std::move(other.fd_)), layout_(std::exchange(other.layout_, nullptr)) {}

SharedMailbox::~SharedMailbox() {
    if (layout_) ::munmap(layout_, kMailboxBytes);
}

// ---------------------------------------------------------------------------------------
// MailboxClient (VMM side)

MailboxClient::MailboxClient(const SharedMailbox& mailbox, std::chrono::milliseconds reply_timeout,
                             std::chrono::microseconds spin)
    : layout_(mailbox.layout()), reply_timeout_(reply_timeout), spin_(spin) {
    head_ = layout_->head.load(std::memory_order_relaxed);
    posted_ = head_;
}

bool MailboxClient::owes_answer() const {
    const uint64_t posted = posted_.load(std::memory_order_acquire);
    const uint64_t handled = layout_->tail.load(std::memory_order_acquire);
    return posted - handled > 0 && posted - handled < (uint64_t{1} << 63);
}

void MailboxClient::throw_if_dead() const {
    if (peer_dead_.load(std::memory_order_acquire)) throw MailboxError("mailbox: the device is gone");
}

void MailboxClient::check_size(uint32_t size) const {
    if (!valid_size(size)) throw MailboxError("mailbox: access size " + std::to_string(size) + " is not 1, 2, 4 or 8");
}

// Waits until the device has handled `count` accesses. The device's counter is checked,
// never trusted: one that runs ahead of what we posted is a malformed reply.
void MailboxClient::wait_handled(uint64_t count, const char* what) {
    auto& L = *layout_;
    auto handled = [&] {
        const uint64_t tail = L.tail.load(std::memory_order_acquire);
        if (tail - count < (uint64_t{1} << 63)) {  // tail >= count, modulo wrap
            if (tail - head_ > 0 && tail - head_ < (uint64_t{1} << 63))
                throw MailboxError("malformed reply: the device claims more accesses than were posted");
            return true;
        }
        return false;
    };
    if (handled()) return;

    if (spin_.count() > 0 && worth_spinning(L.device_cpu)) {
        const auto spin_end = std::chrono::steady_clock::now() + spin_;
        unsigned n = 0;
        while (true) {
            for (int i = 0; i < 64; ++i) {
                if (handled()) return;
                cpu_relax();
            }
            throw_if_dead();
            if ((++n & 3) == 0 && std::chrono::steady_clock::now() >= spin_end) break;
        }
    }

    const auto deadline = std::chrono::steady_clock::now() + reply_timeout_;
    while (true) {
        throw_if_dead();
        const uint32_t seen = L.vmm_doorbell.load(std::memory_order_seq_cst);
        L.vmm_sleeping.store(1, std::memory_order_seq_cst);
        if (handled()) break;
        if (peer_dead_.load(std::memory_order_seq_cst)) break;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            L.vmm_sleeping.store(0, std::memory_order_relaxed);
            throw MailboxError(std::string("mailbox: the device did not answer ") + what + " within " +
                               std::to_string(reply_timeout_.count()) + " ms");
        }
        futex_wait(L.vmm_doorbell, seen, deadline - now);
    }
    // Other threads never sleep here (the mutex serialises callers), so clearing is safe.
    L.vmm_sleeping.store(0, std::memory_order_relaxed);
    throw_if_dead();
}

uint64_t MailboxClient::enqueue(AccessOp op, uint64_t offset, uint32_t size, uint64_t data) {
    auto& L = *layout_;
    L.vmm_cpu.store(::sched_getcpu(), std::memory_order_relaxed);
    // Ring full: wait for the device to free the oldest slot.
    if (head_ - L.tail.load(std::memory_order_acquire) >= kMailboxSlots)
        wait_handled(head_ - kMailboxSlots + 1, "a queued write");

    const uint64_t index = head_++;
    MailboxSlot& slot = L.slots[index & kMailboxSlotMask];
    slot.op = static_cast<uint32_t>(op);
    slot.size = size;
    slot.offset = offset;
    slot.data = mask_to_size(data, size);
    slot.seq.store(index + 1, std::memory_order_release);
    L.head.store(head_, std::memory_order_seq_cst);
    posted_.store(head_, std::memory_order_release);
    // Wake the device only if it sleeps (or is about to): the hot path makes no syscall.
    if (L.device_sleeping.load(std::memory_order_seq_cst) != 0) {
        L.device_doorbell.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_all(L.device_doorbell);
    }
    return index;
}

void MailboxClient::post_write(uint64_t offset, uint32_t size, uint64_t data) {
    check_size(size);
    std::lock_guard lock(mutex_);
    throw_if_dead();
    enqueue(AccessOp::Write, offset, size, data);
}

uint64_t MailboxClient::read(uint64_t offset, uint32_t size) {
    check_size(size);
    std::lock_guard lock(mutex_);
    throw_if_dead();
    const uint64_t index = enqueue(AccessOp::Read, offset, size, 0);
    wait_handled(index + 1, "a read");
    auto& L = *layout_;
    const uint64_t seq = L.reply_seq.load(std::memory_order_acquire);
    const uint32_t reply_size = L.reply_size.load(std::memory_order_relaxed);
    const uint64_t data = L.reply_data.load(std::memory_order_relaxed);
    if (seq != index + 1)
        throw MailboxError("malformed reply: sequence number " + std::to_string(seq) + ", expected " +
                           std::to_string(index + 1));
    if (reply_size != size)
        throw MailboxError("malformed reply: size " + std::to_string(reply_size) + ", expected " +
                           std::to_string(size));
    return mask_to_size(data, size);
}

uint64_t MailboxClient::read_shadow(unsigned index) {
    if (index >= kShadowRegisters) throw MailboxError("mailbox: no shadow register " + std::to_string(index));
    std::lock_guard lock(mutex_);
    throw_if_dead();
    wait_handled(head_, "the queued writes");
    return layout_->shadow[index].load(std::memory_order_acquire);
}

uint64_t MailboxClient::peek_shadow(unsigned index) const {
    if (index >= kShadowRegisters) return 0;
    return layout_->shadow[index].load(std::memory_order_relaxed);
}

void MailboxClient::mark_peer_dead() {
    peer_dead_.store(true, std::memory_order_seq_cst);
    layout_->vmm_doorbell.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(layout_->vmm_doorbell);
}

// ---------------------------------------------------------------------------------------
// MailboxServer (device side)

MailboxServer::MailboxServer(const SharedMailbox& mailbox, std::chrono::microseconds spin)
    : layout_(mailbox.layout()), spin_(spin) {
    tail_ = layout_->tail.load(std::memory_order_relaxed);
}

// Returns once the VMM has posted an access past tail_, or false after stop().
bool MailboxServer::wait_for_work() {
    auto& L = *layout_;
    auto pending = [&] { return L.head.load(std::memory_order_acquire) != tail_; };
    if (pending()) return true;
    if (spin_.count() > 0 && worth_spinning(L.vmm_cpu)) {
        const auto spin_end = std::chrono::steady_clock::now() + spin_;
        unsigned n = 0;
        while (true) {
            for (int i = 0; i < 64; ++i) {
                if (pending()) return true;
                cpu_relax();
            }
            if (stop_.load(std::memory_order_relaxed)) return false;
            if ((++n & 3) == 0 && std::chrono::steady_clock::now() >= spin_end) break;
        }
    }
    while (!stop_.load(std::memory_order_acquire)) {
        const uint32_t seen = L.device_doorbell.load(std::memory_order_seq_cst);
        L.device_sleeping.store(1, std::memory_order_seq_cst);
        if (pending()) break;
        if (stop_.load(std::memory_order_seq_cst)) break;
        futex_wait(L.device_doorbell, seen, std::chrono::milliseconds(500));
    }
    L.device_sleeping.store(0, std::memory_order_relaxed);
    return !stop_.load(std::memory_order_acquire);
}

void MailboxServer::serve(const Handler& handler) {
    auto& L = *layout_;
    while (wait_for_work()) {
        L.device_cpu.store(::sched_getcpu(), std::memory_order_relaxed);
        const uint64_t head = L.head.load(std::memory_order_acquire);
        // The VMM is trusted, but its page is still only read through masked indices and
        // never for more than one ring's worth at a time.
        uint64_t budget = head - tail_;
        if (budget > kMailboxSlots) budget = kMailboxSlots;
        for (; budget > 0; --budget) {
            const uint64_t index = tail_;
            const MailboxSlot& slot = L.slots[index & kMailboxSlotMask];
            const bool in_order = slot.seq.load(std::memory_order_acquire) == index + 1;
            Access access{static_cast<AccessOp>(slot.op), slot.size, slot.offset, slot.data};
            const bool well_formed =
                in_order && valid_size(access.size) && (access.op == AccessOp::Read || access.op == AccessOp::Write);
            if (access.op == AccessOp::Read) {
                uint64_t value = 0;
                if (well_formed) value = mask_to_size(handler(access), access.size);
                L.reply_data.store(value, std::memory_order_relaxed);
                // A zero size fails the VMM's check, so a garbled request is never answered as valid.
                L.reply_size.store(well_formed ? access.size : 0, std::memory_order_relaxed);
                L.reply_seq.store(index + 1, std::memory_order_release);
            } else if (well_formed) {
                access.data = mask_to_size(access.data, access.size);
                handler(access);
            }
            tail_ = index + 1;
            L.tail.store(tail_, std::memory_order_seq_cst);
            if (malformed_reply_requested_.exchange(false)) {
                // Test builds only (see inject_malformed_reply_for_testing): claim far more
                // than was posted and answer with a wrong sequence number.
                L.tail.store(tail_ + 16 * kMailboxSlots, std::memory_order_seq_cst);
                L.reply_seq.store(~0ull, std::memory_order_release);
            }
        }
        if (L.vmm_sleeping.load(std::memory_order_seq_cst) != 0) {
            L.vmm_doorbell.fetch_add(1, std::memory_order_seq_cst);
            futex_wake_all(L.vmm_doorbell);
        }
    }
}

void MailboxServer::stop() {
    stop_.store(true, std::memory_order_seq_cst);
    layout_->device_doorbell.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(layout_->device_doorbell);
}

void MailboxServer::publish_shadow(unsigned index, uint64_t value) {
    if (index >= kShadowRegisters) return;
    layout_->shadow[index].store(value, std::memory_order_release);
}

}  // namespace brig::ipc
