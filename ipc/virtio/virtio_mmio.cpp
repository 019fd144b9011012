#include "ipc/virtio/virtio_mmio.h"
#include "ipc/virtio/virtio_mmio_registers.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <utility>

namespace brig::virtio {

namespace {

using namespace mmio_register;

constexpr uint32_t kDriverStatusBits =
    kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk | kStatusFailed;

void set_low(uint64_t& reg, uint32_t v) { reg = (reg & ~0xffffffffull) | v; }
void set_high(uint64_t& reg, uint32_t v) { reg = (reg & 0xffffffffull) | (uint64_t{v} << 32); }

struct QueueRegisters {
    uint32_t num = 0;
    uint64_t desc = 0;
    uint64_t driver = 0;
    uint64_t device = 0;
    bool ready = false;
};

}  // namespace

struct VirtioMmioTransport::State {
    State(VirtioDevice& d, const GuestMemoryView& m, std::shared_ptr<InterruptLine> i, std::function<void(uint32_t)> p,
          std::function<void(const std::string&)> r)
        : device(d),
          memory(m),
          irq(std::move(i)),
          publish(std::move(p)),
          report(std::move(r)),
          device_id(d.device_id()),
          offered((d.device_features() & ~kTransportFeatureMask) | kFeatureVersion1 | kFeatureRingIndirectDesc |
                  kFeatureRingEventIdx),
          queue_count(d.queue_count()),
          queue_max(std::min<uint16_t>(d.queue_max_size(), kMaxQueueSize)),
          regs(queue_count) {
        clear_queues();
    }

    VirtioDevice& device;
    const GuestMemoryView& memory;
    const std::shared_ptr<InterruptLine> irq;
    const std::function<void(uint32_t)> publish;
    const std::function<void(const std::string&)> report;
    const uint32_t device_id;
    const uint64_t offered;
    const unsigned queue_count;
    const uint16_t queue_max;

    // Taken before `mutex`; held while a device processes a queue and while anything
    // changes `queues` (queue setup, DRIVER_OK, reset).
    std::mutex queue_mutex;
    std::vector<SplitQueue> queues;  // guarded by queue_mutex

    // The register file.
    mutable std::mutex mutex;
    std::function<void(unsigned)> deferred_notify;
    uint32_t status = 0;
    uint32_t device_features_sel = 0;
    uint32_t driver_features_sel = 0;
    uint64_t driver_features = 0;
    uint32_t queue_sel = 0;
    uint32_t interrupt_status = 0;
    // The driver wrote 0 to Status while a queue was being processed: the reset happens
    // when that processing ends; until then Status reads as before and writes are ignored.
    bool reset_pending = false;
    std::vector<QueueRegisters> regs;
    uint64_t ignored_notifies = 0;

    void clear_queues() {
        queues.clear();
        queues.reserve(queue_count);
        for (unsigned q = 0; q < queue_count; ++q) queues.push_back(SplitQueue::disabled(memory));
    }
    void publish_interrupts() {
        if (publish) publish(interrupt_status);
    }
    // Queue registers change only between FEATURES_OK and DRIVER_OK, on a queue not ready.
    QueueRegisters* writable_queue() {
        if (queue_sel >= queue_count) return nullptr;
        if (!(status & kStatusFeaturesOk)) return nullptr;
        if (status & (kStatusDriverOk | kStatusFailed | kStatusNeedsReset)) return nullptr;
        if (regs[queue_sel].ready) return nullptr;
        return &regs[queue_sel];
    }
    // Whether a notify of queue `q` is processed now (mutex held).
    bool usable(unsigned q) const {
        return q < queue_count && (status & kStatusDriverOk) && !(status & (kStatusNeedsReset | kStatusFailed)) &&
               regs[q].ready;
    }
    bool features_acceptable() const {
        return (driver_features & ~offered) == 0 && (driver_features & kFeatureVersion1) != 0;
    }
    std::string queue_name(unsigned q) const {
        return "virtio-" + std::to_string(device_id) + " queue " + std::to_string(q);
    }
};

VirtioMmioTransport::VirtioMmioTransport(VirtioDevice& device, const GuestMemoryView& memory,
                                         std::shared_ptr<InterruptLine> irq,
                                         std::function<void(uint32_t)> publish_interrupt_status,
                                         std::function<void(const std::string&)> report_error)
    : state_(std::make_unique<State>(device, memory, std::move(irq), std::move(publish_interrupt_status),
                                     std::move(report_error))) {}

VirtioMmioTransport::~VirtioMmioTransport() = default;

void VirtioMmioTransport::set_deferred_notify(std::function<void(unsigned)> deferred_notify) {
    std::lock_guard lock(state_->mutex);
    state_->deferred_notify = std::move(deferred_notify);
}

uint64_t VirtioMmioTransport::read(uint64_t offset, uint32_t size) {
    State& s = *state_;
    std::lock_guard lock(s.mutex);

    if (offset >= kMmioConfigSpace) {
        if (size != 1 && size != 2 && size != 4) return 0;
        const uint64_t off = offset - kMmioConfigSpace;
        const uint64_t config_size = s.device.config_size();
        if (off > config_size || size > config_size - off) return 0;
        uint8_t buf[4] = {};
        s.device.read_config(static_cast<uint32_t>(off), std::span<uint8_t>(buf, size));
        uint32_t v = 0;
        std::memcpy(&v, buf, sizeof v);  // little-endian; bytes past `size` are 0
        return v;
    }
    if (size != 4) return 0;

    const bool queue_ok = s.queue_sel < s.queue_count;
    switch (offset) {
        case kMagicValue:
            return kMmioMagic;
        case kVersion:
            return kMmioVersion;
        case kDeviceId:
            return s.device_id;
        case kVendorId:
            return kMmioVendorId;
        case kDeviceFeatures:
            if (s.device_features_sel == 0) return static_cast<uint32_t>(s.offered);
            if (s.device_features_sel == 1) return static_cast<uint32_t>(s.offered >> 32);
            return 0;
        case kQueueNumMax:
            return queue_ok ? s.queue_max : 0;
        case kQueueReady:
            return queue_ok && s.regs[s.queue_sel].ready ? 1 : 0;
        case kMmioInterruptStatus:
            return s.interrupt_status;
        case kStatus:
            return s.status;
        case kShmLenLow:
        case kShmLenHigh:
        case kShmBaseLow:
        case kShmBaseHigh:
            return 0xffffffff;  // no shared memory regions (a length of -1)
        case kConfigGeneration:
            return 0;  // the config space never changes under the driver
        default:
            return 0;  // unknown or write-only
    }
}

void VirtioMmioTransport::write(uint64_t offset, uint32_t size, uint64_t value) {
    State& s = *state_;

    if (offset >= kMmioConfigSpace) {
        if (size != 1 && size != 2 && size != 4) return;
        std::lock_guard lock(s.mutex);
        const uint64_t off = offset - kMmioConfigSpace;
        const uint64_t config_size = s.device.config_size();
        if (off > config_size || size > config_size - off) return;
        uint8_t buf[8];
        std::memcpy(buf, &value, sizeof buf);
        s.device.write_config(static_cast<uint32_t>(off), std::span<const uint8_t>(buf, size));
        return;
    }
    if (size != 4) return;
    const auto v = static_cast<uint32_t>(value);

    switch (offset) {
        case kStatus:
            write_status(v);
            return;
        case kQueueReady:
            write_queue_ready(v);
            return;
        case kMmioQueueNotify: {
            std::function<void(unsigned)> deferred;
            {
                std::lock_guard lock(s.mutex);
                deferred = s.deferred_notify;
            }
            if (deferred && v < s.queue_count)
                deferred(v);
            else
                notify(v);  // counts it as ignored when out of range
            return;
        }
        default:
            break;
    }

    std::lock_guard lock(s.mutex);
    switch (offset) {
        case kDeviceFeaturesSel:
            s.device_features_sel = v;
            break;
        case kDriverFeaturesSel:
            s.driver_features_sel = v;
            break;
        case kDriverFeatures:
            // Only while negotiating: after DRIVER and before FEATURES_OK.
            if ((s.status & kStatusDriver) && !(s.status & (kStatusFeaturesOk | kStatusFailed | kStatusNeedsReset))) {
                if (s.driver_features_sel == 0)
                    set_low(s.driver_features, v);
                else if (s.driver_features_sel == 1)
                    set_high(s.driver_features, v);
            }
            break;
        case kQueueSel:
            s.queue_sel = v;
            break;
        case kQueueNum:
            if (auto* q = s.writable_queue()) q->num = v;
            break;
        case kQueueDescLow:
            if (auto* q = s.writable_queue()) set_low(q->desc, v);
            break;
        case kQueueDescHigh:
            if (auto* q = s.writable_queue()) set_high(q->desc, v);
            break;
        case kQueueDriverLow:
            if (auto* q = s.writable_queue()) set_low(q->driver, v);
            break;
        case kQueueDriverHigh:
            if (auto* q = s.writable_queue()) set_high(q->driver, v);
            break;
        case kQueueDeviceLow:
            if (auto* q = s.writable_queue()) set_low(q->device, v);
            break;
        case kQueueDeviceHigh:
            if (auto* q = s.writable_queue()) set_high(q->device, v);
            break;
        case kMmioInterruptAck:
            s.interrupt_status &= ~v;
            s.publish_interrupts();
            break;
        default:
            break;  // read-only or unknown
    }
}

void VirtioMmioTransport::write_queue_ready(uint32_t v) {
    State& s = *state_;
    {
        // From DRIVER_OK on, queues may be in use and QueueReady cannot change: answer at
        // once instead of waiting behind queue processing.
        std::lock_guard lock(s.mutex);
        if (s.reset_pending || (s.status & kStatusDriverOk)) return;
    }
    // Before DRIVER_OK no queue is processed, so this lock is free or held for a moment.
    std::lock_guard queue_lock(s.queue_mutex);
    std::string error;
    unsigned index = 0;
    {
        std::lock_guard lock(s.mutex);
        if (s.queue_sel >= s.queue_count) return;
        index = s.queue_sel;
        if (v == 0) {
            // Withdrawing a queue is allowed before DRIVER_OK (no RING_RESET after it).
            if (s.regs[index].ready && !(s.status & kStatusDriverOk)) {
                s.regs[index].ready = false;
                s.queues[index] = SplitQueue::disabled(s.memory);
            }
            return;
        }
        if (v != 1) return;
        QueueRegisters* q = s.writable_queue();
        if (q == nullptr) return;
        try {
            if (q->num > 0xffff) throw QueueError("queue size " + std::to_string(q->num) + " exceeds the maximum");
            const QueueConfig config{static_cast<uint16_t>(q->num), q->desc, q->driver, q->device};
            s.queues[index] = SplitQueue(s.memory, config, s.queue_max, (s.driver_features & kFeatureRingEventIdx) != 0,
                                         (s.driver_features & kFeatureRingIndirectDesc) != 0);
            q->ready = true;
            return;
        } catch (const QueueError& e) {
            error = e.what();
        }
    }
    fail_queue(index, error);
}

// Both locks held.
void VirtioMmioTransport::apply_reset() {
    State& s = *state_;
    s.reset_pending = false;
    s.status = 0;
    s.device_features_sel = 0;
    s.driver_features_sel = 0;
    s.driver_features = 0;
    s.queue_sel = 0;
    s.regs.assign(s.queue_count, QueueRegisters{});
    s.clear_queues();
    s.interrupt_status = 0;
    s.publish_interrupts();
    s.device.reset();
}

// A register write never waits for queue processing (a long batch would stall the
// vCPU and look like a dead device): if a queue is being processed, the reset is left
// to the thread processing it, and the driver sees Status 0 once it is done.
void VirtioMmioTransport::reset_or_defer() {
    State& s = *state_;
    std::lock_guard lock(s.mutex);
    // Against the usual lock order, but try_lock cannot deadlock.
    std::unique_lock queue_lock(s.queue_mutex, std::try_to_lock);
    if (!queue_lock) {
        s.reset_pending = true;
        return;
    }
    apply_reset();
}

void VirtioMmioTransport::reset() {
    State& s = *state_;
    std::lock_guard queue_lock(s.queue_mutex);
    std::lock_guard lock(s.mutex);
    apply_reset();
}

// Called by whoever processed a queue, after releasing queue_mutex.
void VirtioMmioTransport::finish_pending_reset() {
    State& s = *state_;
    {
        std::lock_guard lock(s.mutex);
        if (!s.reset_pending) return;
    }
    std::lock_guard queue_lock(s.queue_mutex);
    std::lock_guard lock(s.mutex);
    if (s.reset_pending) apply_reset();
}

void VirtioMmioTransport::write_status(uint32_t v) {
    State& s = *state_;
    if (v == 0) {
        reset_or_defer();
        return;
    }

    std::vector<unsigned> ready_queues;
    std::function<void(unsigned)> deferred;
    {
        std::unique_lock lock(s.mutex);
        if (s.reset_pending) return;  // the driver must wait for Status 0 first
        const uint32_t old = s.status;
        const uint32_t requested = v & kDriverStatusBits;
        if (requested & kStatusFailed) {  // the driver gave up: stop using the device
            s.status |= kStatusFailed;
            return;
        }
        // The driver may not clear a bit, nor move on after FAILED or NEEDS_RESET.
        if (old & (kStatusFailed | kStatusNeedsReset)) return;
        if ((requested & old) != (old & kDriverStatusBits)) return;
        const uint32_t added = requested & ~old;
        uint32_t next = old;
        if (added & kStatusAcknowledge) next |= kStatusAcknowledge;
        if ((added & kStatusDriver) && (next & kStatusAcknowledge)) next |= kStatusDriver;
        // FEATURES_OK only for an acceptable feature set; the driver reads it back.
        if ((added & kStatusFeaturesOk) && (next & kStatusDriver) && s.features_acceptable()) next |= kStatusFeaturesOk;
        s.status = next;
        // DRIVER_OK only once FEATURES_OK was set (and read back) before.
        if (!(added & kStatusDriverOk) || !(old & kStatusFeaturesOk)) return;

        const uint64_t features = s.driver_features;
        lock.unlock();
        // Before DRIVER_OK no queue is processed, so this lock is free or held for a moment.
        std::lock_guard queue_lock(s.queue_mutex);
        s.device.activate(features);  // no notify is processed before DRIVER_OK is set below
        lock.lock();
        if (s.status != next || s.reset_pending) return;  // NEEDS_RESET came in between
        s.status |= kStatusDriverOk;
        for (unsigned q = 0; q < s.queue_count; ++q)
            if (s.regs[q].ready) ready_queues.push_back(q);
        deferred = s.deferred_notify;
    }
    // A notify that overtook the (posted) DRIVER_OK write was ignored: look at every
    // ready queue once now.
    for (unsigned q : ready_queues) {
        if (deferred)
            deferred(q);
        else
            notify(q);
    }
}

void VirtioMmioTransport::notify(unsigned queue) {
    process(queue);
    finish_pending_reset();
}

void VirtioMmioTransport::process(unsigned queue) {
    State& s = *state_;
    std::lock_guard queue_lock(s.queue_mutex);
    {
        std::lock_guard lock(s.mutex);
        if (!s.usable(queue)) {
            if (s.ignored_notifies++ == 0)
                spdlog::debug(
                    "[virtio] virtio-{}: ignoring a notify of queue {} (status {:#x}); further ones are counted",
                    s.device_id, queue, s.status);
            return;
        }
    }
    QueueContext ctx{s.queues, s.memory, [this](unsigned q) { signal_used(q); },
                     [this](unsigned q) {
                         // Later, on the thread that runs the queues (never inline: this
                         // thread holds queue_mutex). Without one (unit tests), the rest
                         // waits for the driver's next notify.
                         std::function<void(unsigned)> deferred;
                         {
                             std::lock_guard lock(state_->mutex);
                             deferred = state_->deferred_notify;
                         }
                         if (deferred) deferred(q);
                     }};
    try {
        s.device.process_queue(queue, ctx);
    } catch (const QueueError& e) {
        fail_queue(queue, e.what());
    }
}

// Called from inside process_queue(), so queue_mutex is held by this thread.
void VirtioMmioTransport::signal_used(unsigned queue) {
    State& s = *state_;
    if (queue >= s.queues.size() || !s.queues[queue].needs_interrupt()) return;
    {
        std::lock_guard lock(s.mutex);
        s.interrupt_status |= kInterruptUsedBuffer;
        s.publish_interrupts();
    }
    if (s.irq) s.irq->trigger();
}

// queue_mutex may be held; mutex is not.
void VirtioMmioTransport::fail_queue(unsigned queue, const std::string& reason) {
    State& s = *state_;
    {
        std::lock_guard lock(s.mutex);
        s.status |= kStatusNeedsReset;
        s.interrupt_status |= kInterruptConfigChange;
        s.publish_interrupts();
    }
    if (s.irq) s.irq->trigger();
    if (s.report) s.report(s.queue_name(queue) + ": " + reason);
}

bool VirtioMmioTransport::driver_ok() const {
    std::lock_guard lock(state_->mutex);
    return (state_->status & kStatusDriverOk) != 0;
}

bool VirtioMmioTransport::queue_usable(unsigned queue) const {
    std::lock_guard lock(state_->mutex);
    return state_->usable(queue);
}

bool VirtioMmioTransport::needs_reset() const {
    std::lock_guard lock(state_->mutex);
    return (state_->status & kStatusNeedsReset) != 0;
}

uint64_t VirtioMmioTransport::ignored_notifies() const {
    std::lock_guard lock(state_->mutex);
    return state_->ignored_notifies;
}

}  // namespace brig::virtio
