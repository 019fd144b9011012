// A hostile virtio-mmio driver for the fuzz targets: it turns a fuzz input into
// register accesses, ring contents and notifies against a VirtioMmioTransport over a
// fake guest RAM (a vector, so that AddressSanitizer sees any access outside it).
// Besides raw accesses it has a few well-formed steps (the whole handshake, a queue
// at fixed addresses, a chain made available), so that the fuzzer reaches the deep
// states quickly and then breaks them from there.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipc/bus_device.h"
#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtio_mmio.h"
#include "ipc/virtio/virtio_mmio_registers.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace brig::fuzz {

class NullInterrupt final : public InterruptLine {
public:
    void trigger() override { ++count; }
    uint64_t count = 0;
};

class HostileDriver {
public:
    static constexpr uint64_t kRamSize = 256 << 10;
    static constexpr unsigned kMaxQueues = 4;
    // Queue q's rings, when the driver lays them out itself: descriptors, then the
    // available ring, then the used ring, 4 KiB apart.
    static constexpr uint64_t ring_base(unsigned q) { return 0x1000 + 0x3000ull * q; }
    static constexpr uint64_t kBuffers = 0x10000;  // buffers above the rings

    // Guest RAM is one buffer for every input, zeroed for each: a fresh 256 KiB each
    // time was mapped and unmapped by the allocator, and its page faults were most of
    // a run's time.
    explicit HostileDriver(virtio::VirtioDevice& device)
        : ram_(zeroed_ram()),
          memory_(virtio::GuestMemoryView::for_testing(ram_)),
          transport_(
              device, memory_, irq_, [](uint32_t) {}, [](const std::string&) {}) {}

    const virtio::GuestMemoryView& memory() const { return memory_; }
    virtio::VirtioMmioTransport& transport() { return transport_; }

    // One step of the input; `extra(op)` runs the caller's own steps for op >= kSteps.
    static constexpr unsigned kSteps = 12;
    void step(FuzzInput& in, unsigned op) {
        using namespace virtio::mmio_register;
        switch (op) {
            case 0:  // any register write
                transport_.write(in.take<uint16_t>() % 0x200, access_size(in), in.take<uint64_t>());
                break;
            case 1:  // any register read
                transport_.read(in.take<uint16_t>() % 0x200, access_size(in));
                break;
            case 2:  // a 32-bit write to a named register
                transport_.write(kRegisters[in.pick(std::size(kRegisters))], 4, in.take<uint32_t>());
                break;
            case 3:
                transport_.notify(in.pick(kMaxQueues + 1));
                break;
            case 4: {  // guest memory, anywhere
                const uint64_t addr = in.below(kRamSize);
                auto b = in.bytes(64);
                std::memcpy(ram_.data() + addr, b.data(), std::min<size_t>(b.size(), kRamSize - addr));
                break;
            }
            case 5: {  // one descriptor in a queue's table
                const unsigned q = in.pick(kMaxQueues);
                const uint16_t index = in.take<uint16_t>() % 256;
                Desc d{buffer_addr(in), in.take<uint32_t>() % 0x2000, static_cast<uint16_t>(in.take<uint8_t>() & 7),
                       in.take<uint16_t>()};
                put(ring_base(q) + 16ull * index, d);
                break;
            }
            case 6: {  // make a head available on a queue laid out by setup_queue
                const unsigned q = in.pick(kMaxQueues);
                const uint16_t head = in.take<uint16_t>();
                const uint64_t avail = ring_base(q) + 0x1000;
                put<uint16_t>(avail + 4 + 2ull * (avail_idx_[q] % queue_size_[q]), head);
                ++avail_idx_[q];
                put<uint16_t>(avail + 2, avail_idx_[q]);
                break;
            }
            case 7:
                handshake(in);
                break;
            case 8:
                setup_queue(in.pick(kMaxQueues), static_cast<uint16_t>(1u << in.pick(9)), in.flag());
                break;
            case 9:
                transport_.write(kStatus, 4,
                                 virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                                     virtio::kStatusDriverOk);
                break;
            case 10:  // config space
                if (in.flag())
                    transport_.write(virtio::kMmioConfigSpace + in.pick(64), access_size(in), in.take<uint64_t>());
                else
                    transport_.read(virtio::kMmioConfigSpace + in.pick(64), access_size(in));
                break;
            case 11:
                if (in.flag())
                    transport_.reset();
                else
                    transport_.write(virtio::kMmioInterruptAck, 4, in.take<uint32_t>());
                break;
        }
    }

    // Feature negotiation with whatever features the input offers.
    void handshake(FuzzInput& in) {
        using namespace virtio::mmio_register;
        const uint64_t features = in.take<uint64_t>() | virtio::kFeatureVersion1;
        transport_.write(kStatus, 4, 0);
        transport_.write(kStatus, 4, virtio::kStatusAcknowledge);
        transport_.write(kStatus, 4, virtio::kStatusAcknowledge | virtio::kStatusDriver);
        for (uint32_t sel = 0; sel < 2; ++sel) {
            transport_.write(kDriverFeaturesSel, 4, sel);
            transport_.write(kDriverFeatures, 4, static_cast<uint32_t>(features >> (32 * sel)));
        }
        transport_.write(kStatus, 4, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
        for (unsigned q = 0; q < kMaxQueues; ++q) avail_idx_[q] = 0;
    }

    void setup_queue(unsigned q, uint16_t size, bool ready) {
        using namespace virtio::mmio_register;
        queue_size_[q] = size;
        const uint64_t base = ring_base(q);
        transport_.write(kQueueSel, 4, q);
        transport_.write(kQueueNum, 4, size);
        transport_.write(kQueueDescLow, 4, static_cast<uint32_t>(base));
        transport_.write(kQueueDriverLow, 4, static_cast<uint32_t>(base + 0x1000));
        transport_.write(kQueueDeviceLow, 4, static_cast<uint32_t>(base + 0x2000));
        transport_.write(kQueueReady, 4, ready ? 1 : 0);
    }

private:
    struct Desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
    };
    static constexpr uint64_t kRegisters[] = {
        virtio::mmio_register::kDeviceFeaturesSel,
        virtio::mmio_register::kDriverFeatures,
        virtio::mmio_register::kDriverFeaturesSel,
        virtio::mmio_register::kQueueSel,
        virtio::mmio_register::kQueueNum,
        virtio::mmio_register::kQueueReady,
        virtio::kMmioQueueNotify,
        virtio::kMmioInterruptAck,
        virtio::mmio_register::kStatus,
        virtio::mmio_register::kQueueDescLow,
        virtio::mmio_register::kQueueDescHigh,
        virtio::mmio_register::kQueueDriverLow,
        virtio::mmio_register::kQueueDriverHigh,
        virtio::mmio_register::kQueueDeviceLow,
        virtio::mmio_register::kQueueDeviceHigh,
        virtio::mmio_register::kShmBaseLow,
    };

    static uint32_t access_size(FuzzInput& in) {
        static constexpr uint32_t kSizes[] = {4, 1, 2, 8, 3};
        return kSizes[in.pick(std::size(kSizes))];
    }
    // Mostly inside the buffer area, sometimes anywhere (past the end, overflowing).
    static uint64_t buffer_addr(FuzzInput& in) {
        if (in.pick(8) == 0) return in.take<uint64_t>();
        return kBuffers + in.below(kRamSize - kBuffers);
    }
    template <typename T>
    void put(uint64_t addr, const T& value) {
        if (addr + sizeof(T) <= kRamSize) std::memcpy(ram_.data() + addr, &value, sizeof(T));
    }

    static std::span<uint8_t> zeroed_ram() {
        static std::vector<uint8_t> ram(kRamSize);
        std::fill(ram.begin(), ram.end(), 0);
        return ram;
    }

    std::span<uint8_t> ram_;
    virtio::GuestMemoryView memory_;
    std::shared_ptr<NullInterrupt> irq_ = std::make_shared<NullInterrupt>();  // before transport_, which takes it
    virtio::VirtioMmioTransport transport_;
    uint16_t avail_idx_[kMaxQueues] = {};
    uint16_t queue_size_[kMaxQueues] = {1, 1, 1, 1};
};

}  // namespace brig::fuzz
