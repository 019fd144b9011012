// The hardware-reduced ACPI registers the FADT points at: sleep control (S5 powers
// off), sleep status, and the reset register. Board control, not I/O, so it stays in
// the VMM rather than a device process.
#pragma once

#include "vmm/platform/power_request.h"

namespace brig {

class AcpiPowerManagement final : public PowerControlDevice {
public:
    using PowerControlDevice::PowerControlDevice;
    std::string_view name() const override { return "acpi-pm"; }
    void write(uint64_t offset, std::span<const uint8_t> data) override;
};

}  // namespace brig
