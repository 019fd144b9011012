// What the guest's board-control registers can ask of the VMM, and the base of the
// devices that ask it.
#pragma once

#include <functional>
#include <string_view>

#include "ipc/bus_device.h"

namespace brig {

enum class PowerRequest { PowerOff, Reset };

// Called from a vCPU thread; `via` names the mechanism for the log ("acpi-sleep", "i8042").
using PowerRequestHandler = std::function<void(PowerRequest, std::string_view via)>;

// A board-control device: write-only registers that turn into power requests. Every
// read returns 0, which is what both the ACPI PM block ("not waking") and the i8042
// ("no keyboard, buffers empty") must answer.
class PowerControlDevice : public BusDevice {
public:
    explicit PowerControlDevice(PowerRequestHandler handler) : handler_(std::move(handler)) {}

    void read(uint64_t, std::span<uint8_t> data) final {
        for (auto& b : data) b = 0;
    }

protected:
    void request(PowerRequest what, std::string_view via) const { handler_(what, via); }

private:
    PowerRequestHandler handler_;
};

}  // namespace brig
