// The virtio-mmio register file, version 2 (virtio 1.2, 4.2.2), in the device process
// behind the forwarding mailbox. The VMM's proxy serves InterruptStatus from a
// shadow this transport publishes, and posts InterruptACK, so an interrupt costs no
// blocking round trip.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ipc/bus_device.h"
#include "ipc/virtio/virtio_device.h"

namespace brig::virtio {

// Register offsets the VMM also needs (ioeventfd on QueueNotify, the shadowed status).
constexpr uint64_t kMmioQueueNotify = 0x050;
constexpr uint64_t kMmioInterruptStatus = 0x060;
constexpr uint64_t kMmioInterruptAck = 0x064;
constexpr uint64_t kMmioWindowSize = 0x1000;
constexpr uint64_t kMmioConfigSpace = 0x100;
// The mailbox shadow the device publishes InterruptStatus in, for the VMM's proxy.
constexpr unsigned kInterruptStatusShadow = 1;

constexpr uint32_t kMmioMagic = 0x74726976;  // "virt"
constexpr uint32_t kMmioVersion = 2;
constexpr uint32_t kMmioVendorId = 0x42524947;  // "BRIG"

// Device status bits (virtio 1.2, 2.1).
constexpr uint32_t kStatusAcknowledge = 1;
constexpr uint32_t kStatusDriver = 2;
constexpr uint32_t kStatusDriverOk = 4;
constexpr uint32_t kStatusFeaturesOk = 8;
constexpr uint32_t kStatusNeedsReset = 64;
constexpr uint32_t kStatusFailed = 128;

// InterruptStatus bits.
constexpr uint32_t kInterruptUsedBuffer = 1;
constexpr uint32_t kInterruptConfigChange = 2;

// Transport feature bits the transport itself offers.
constexpr uint64_t kFeatureRingIndirectDesc = 1ull << 28;
constexpr uint64_t kFeatureRingEventIdx = 1ull << 29;
constexpr uint64_t kFeatureVersion1 = 1ull << 32;
// Bits 24..40 belong to the transport: a device's own bits there are not offered.
constexpr uint64_t kTransportFeatureMask = ((1ull << 41) - 1) & ~((1ull << 24) - 1);

class VirtioMmioTransport {
public:
    // `publish_interrupt_status` makes the status visible to the proxy (a mailbox shadow);
    // `report_error` tells the VMM about a hostile queue (one line).
    VirtioMmioTransport(VirtioDevice& device, const GuestMemoryView& memory, std::shared_ptr<InterruptLine> irq,
                        std::function<void(uint32_t)> publish_interrupt_status,
                        std::function<void(const std::string&)> report_error);
    ~VirtioMmioTransport();
    VirtioMmioTransport(const VirtioMmioTransport&) = delete;
    VirtioMmioTransport& operator=(const VirtioMmioTransport&) = delete;

    // How the transport asks for a queue to be processed on the thread that normally
    // calls notify() (the service signals the queue's eventfd). Used for a QueueNotify
    // write that reaches write(), and at DRIVER_OK for every ready queue: register
    // writes are posted while ioeventfd notifies are not, so a notify the driver sent
    // right after DRIVER_OK can overtake the DRIVER_OK write and be ignored; the
    // re-check at DRIVER_OK picks its buffers up. Unset: notify() runs inline.
    void set_deferred_notify(std::function<void(unsigned queue)> deferred_notify);

    uint64_t read(uint64_t offset, uint32_t size);
    void write(uint64_t offset, uint32_t size, uint64_t value);
    // A queue notify (from the queue's ioeventfd, or a QueueNotify write that reached us).
    void notify(unsigned queue);
    // Lets the device process a queue on its own initiative (e.g. console input arrived).
    void kick(unsigned queue) { notify(queue); }

    // A machine reset (a reboot in place): what a Status 0 write does, but waiting for
    // a queue being processed instead of leaving the reset to it.
    void reset();

    bool driver_ok() const;
    bool needs_reset() const;
    // Whether a notify of `queue` would be processed now: DRIVER_OK, neither NEEDS_RESET
    // nor FAILED, and the queue ready. A device's own input waits while it is not.
    bool queue_usable(unsigned queue) const;
    // Notifies dropped because they came before DRIVER_OK, for a queue that was not
    // ready or out of range, or while NEEDS_RESET.
    uint64_t ignored_notifies() const;

private:
    // Status, features, per-queue config and ready flags, the SplitQueue objects,
    // interrupt status. Two locks: `queue_mutex` serialises queue processing with
    // everything that changes the queues (Status, queue registers, reset) and is taken
    // first; `mutex` guards the register file and is never held while a device runs.
    // A register access never waits for queue_mutex while a queue is processed.
    struct State;
    void signal_used(unsigned queue);
    void fail_queue(unsigned queue, const std::string& reason);  // NEEDS_RESET + config interrupt
    void write_status(uint32_t value);
    void reset_or_defer();
    void apply_reset();
    void finish_pending_reset();
    void process(unsigned queue);  // notify() without the pending-reset check
    void write_queue_ready(uint32_t value);
    std::unique_ptr<State> state_;
};

}  // namespace brig::virtio
