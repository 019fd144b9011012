// The hardware-reduced ACPI registers the FADT points at: sleep control (S5 powers
// off), sleep status, and the reset register. Board control, not I/O, so it stays in
// the VMM rather than a device process.
#pragma once

#include "ipc/bus_device.h"
#include "vmm/platform/power_request.h"

namespace brig {

class AcpiPowerManagement final : public BusDevice {
public:
    explicit AcpiPowerManagement(PowerRequestHandler handler) : handler_(std::move(handler)) {}

    std::string_view name() const override { return "acpi-pm"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    PowerRequestHandler handler_;
};

}  // namespace brig
