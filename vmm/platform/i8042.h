// Just enough of the PC keyboard controller for its one job in a VM: the reset line
// (command 0xFE on port 0x64), which Linux and most boot loaders use to reboot.
#pragma once

#include "vmm/platform/power_request.h"

namespace brig {

class I8042ResetController final : public PowerControlDevice {
public:
    using PowerControlDevice::PowerControlDevice;
    std::string_view name() const override { return "i8042"; }
    void write(uint64_t offset, std::span<const uint8_t> data) override;
};

}  // namespace brig
