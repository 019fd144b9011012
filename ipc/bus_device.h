// The one interface through which the VMM reaches an emulated device.
//
// A vCPU exit on a PIO/MMIO range lands here. The device sees offsets relative to
// the start of its range, never absolute guest addresses, so the same device code
// can run in-process (--disable-sandbox) or behind a proxy that forwards the access
// to a jailed device process.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace brig {

class BusDevice {
public:
    virtual ~BusDevice() = default;

    // Short stable name used in logs and error reports ("serial", "virtio-blk0").
    virtual std::string_view name() const = 0;

    // `data` is 1, 2, 4 or 8 bytes. A read must fill every byte of `data`.
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

// An edge-triggered interrupt line. In-process it is KVM_IRQ_LINE; in a device
// process it is an irqfd, so raising it never crosses an RPC.
class InterruptLine {
public:
    virtual ~InterruptLine() = default;
    virtual void trigger() = 0;
};

}  // namespace brig
