// pvpanic, as QEMU defines it (docs/specs/pvpanic.rst): one I/O port (0x505) the
// guest writes when it panics, declared in the DSDT as QEMU0001 so Linux's pvpanic
// driver finds it. A read says which events the device takes; a write of PANICKED
// stops the VM (exit 34, GUEST_PANIC); CRASH_LOADED (a kdump kernel takes over) is
// only logged, and the guest goes on.
#pragma once

#include <functional>

#include "ipc/bus_device.h"

namespace brig {

class Pvpanic final : public BusDevice {
public:
    static constexpr uint8_t kPanicked = 1u << 0;
    static constexpr uint8_t kCrashLoaded = 1u << 1;

    // Called on the vCPU thread that wrote PANICKED.
    explicit Pvpanic(std::function<void()> on_panic) : on_panic_(std::move(on_panic)) {}

    std::string_view name() const override { return "pvpanic"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::function<void()> on_panic_;
};

}  // namespace brig
