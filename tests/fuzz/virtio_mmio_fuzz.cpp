// Target 1: the split virtqueue walker and the virtio-mmio transport, driven by a
// hostile driver (hostile_driver.h) against a device that echoes every chain. The
// device checks what the walker promises (virtqueue.h): every buffer of a chain lies
// inside guest RAM, a chain holds at most `size` buffers, and the queue's own
// push_used() accepts the head it was given.
#include <string>

#include "ipc/virtio/virtio_device.h"
#include "ipc/virtio/virtqueue.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/hostile_driver.h"

using namespace brig;
using namespace brig::fuzz;

namespace {

class CheckingEchoDevice final : public virtio::VirtioDevice {
public:
    uint32_t device_id() const override { return virtio::kDeviceIdEntropy; }
    uint64_t device_features() const override { return 1ull << 3; }
    unsigned queue_count() const override { return 3; }
    uint16_t queue_max_size() const override { return 256; }
    uint32_t config_size() const override { return sizeof(config_); }
    void read_config(uint32_t offset, std::span<uint8_t> data) override {
        if (offset + data.size() > sizeof(config_)) fail("config read past config_size()");
        std::memcpy(data.data(), config_ + offset, data.size());
    }
    void write_config(uint32_t offset, std::span<const uint8_t> data) override {
        if (offset + data.size() > sizeof(config_)) fail("config write past config_size()");
        std::memcpy(config_ + offset, data.data(), data.size());
    }
    void process_queue(unsigned queue, virtio::QueueContext& ctx) override {
        if (queue >= ctx.queues.size()) fail("process_queue for queue " + std::to_string(queue));
        virtio::serve_available(ctx, queue, [&](const virtio::DescriptorChain& chain) {
            const size_t buffers = chain.readable.size() + chain.writable.size();
            if (buffers == 0 || buffers > ctx.queues[queue].size())
                fail("a chain of " + std::to_string(buffers) + " buffers");
            if (chain.head >= ctx.queues[queue].size()) fail("a head past the queue size");
            uint32_t written = 0;
            for (const auto& b : chain.readable)
                if (!ctx.memory.slice(b.addr, b.len)) fail("a readable buffer outside guest RAM");
            for (const auto& b : chain.writable) {
                auto s = ctx.memory.slice(b.addr, b.len);
                if (!s || b.len == 0) fail("a writable buffer outside guest RAM or empty");
                std::memset(s->data(), 0xab, std::min<size_t>(s->size(), 64));
                written += b.len;
            }
            return written;
        });
    }

private:
    uint8_t config_[12] = {};
};

}  // namespace

BRIG_FUZZ_TARGET(virtio_mmio) {
    FuzzInput in(data, size);
    CheckingEchoDevice device;
    HostileDriver driver(device);
    for (unsigned steps = 0; !in.empty() && steps < 256; ++steps) driver.step(in, in.pick(HostileDriver::kSteps));
    return 0;
}
