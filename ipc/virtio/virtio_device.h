// What a virtio device implements. The transport (virtio_mmio.h) owns the register
// file, feature negotiation, status and the queues; a device never names a transport
// and never walks a ring itself (crosvm's VirtioDevice has this shape).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ipc/virtio/virtqueue.h"

namespace brig::virtio {

// Device ids (virtio 1.2, 5).
constexpr uint32_t kDeviceIdNet = 1;
constexpr uint32_t kDeviceIdBlock = 2;
constexpr uint32_t kDeviceIdConsole = 3;
constexpr uint32_t kDeviceIdEntropy = 4;
constexpr uint32_t kDeviceIdVsock = 19;

// A config-space read (virtio 1.2, 4.2.2.2) served from the device's config structure,
// laid out in `config`: `data` gets the bytes at `offset`, and bytes past the end of
// the structure read as 0, so no guest offset or size reaches outside it.
inline void read_config_bytes(std::span<const uint8_t> config, uint64_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), 0);
    if (offset >= config.size()) return;
    const size_t n = std::min<size_t>(data.size(), config.size() - offset);
    std::copy_n(config.begin() + static_cast<ptrdiff_t>(offset), n, data.begin());
}

// Given to a device while its queues run: the queues and a way to interrupt the driver.
struct QueueContext {
    std::vector<SplitQueue>& queues;
    const GuestMemoryView& memory;
    std::function<void(unsigned queue)> signal_used;  // raises the used-buffer interrupt (if the driver wants it)
    // Runs the queue again soon, on the queue thread: for a device that stops after a
    // budget, so that a driver that keeps a ring full cannot hold the thread.
    std::function<void(unsigned queue)> requeue = {};
};

// The most chains one run of a queue serves (serve_available) before it requeues.
constexpr unsigned kChainsPerRun = 256;

// Completes chains on one queue and raises one used-buffer interrupt for the whole
// batch when it goes out of scope, also when serving a chain threw (a hostile ring):
// the driver still hears about the chains completed before. Every device's queue
// loop is built on it.
class UsedBatch {
public:
    UsedBatch(QueueContext& ctx, unsigned queue) : ctx_(ctx), queue_(queue) {}
    ~UsedBatch() {
        if (completed_ == 0) return;
        try {
            ctx_.signal_used(queue_);
        } catch (...) {
            // Raising an interrupt cannot fail in a way the driver could be told of.
        }
    }
    UsedBatch(const UsedBatch&) = delete;
    UsedBatch& operator=(const UsedBatch&) = delete;

    SplitQueue& queue() { return ctx_.queues[queue_]; }
    void complete(uint16_t head, uint32_t written) {
        queue().push_used(head, written);
        ++completed_;
    }

private:
    QueueContext& ctx_;
    unsigned queue_;
    unsigned completed_ = 0;
};

// Serves the chains the driver has made available on `queue`: `serve(chain)` returns
// the bytes it wrote into the chain; one interrupt for the batch.
// At most kChainsPerRun chains, then the queue is requeued: a driver that republishes
// chains as fast as they are served cannot keep the thread from its other work.
template <typename Serve>
void serve_available(QueueContext& ctx, unsigned queue, Serve&& serve) {
    UsedBatch batch(ctx, queue);
    for (unsigned served = 0; served < kChainsPerRun; ++served) {
        auto chain = batch.queue().pop();
        if (!chain) return;
        const uint32_t written = serve(*chain);
        batch.complete(chain->head, written);
    }
    if (ctx.requeue) ctx.requeue(queue);
}

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;
    virtual uint32_t device_id() const = 0;
    // Device-specific feature bits (the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC).
    virtual uint64_t device_features() const = 0;
    virtual unsigned queue_count() const = 0;
    virtual uint16_t queue_max_size() const { return 256; }
    // Config space: reads/writes are bounds-checked by the transport against config_size().
    virtual uint32_t config_size() const = 0;
    virtual void read_config(uint32_t offset, std::span<uint8_t> data) = 0;
    virtual void write_config(uint32_t /*offset*/, std::span<const uint8_t> /*data*/) {}
    // DRIVER_OK: the negotiated features; the queues are configured.
    virtual void activate(uint64_t /*driver_features*/) {}
    // The driver notified `queue` (or the device's own event source fired, e.g. input).
    // Throws QueueError for a hostile queue; the transport puts the device in NEEDS_RESET.
    virtual void process_queue(unsigned queue, QueueContext& ctx) = 0;
    // The driver wrote 0 to status: drop all queue state.
    virtual void reset() {}
};

}  // namespace brig::virtio
