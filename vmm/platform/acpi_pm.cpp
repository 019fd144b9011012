#include "vmm/platform/acpi_pm.h"

#include <spdlog/spdlog.h>

#include "vmm/memory/layout.h"

namespace brig {
namespace {

constexpr uint64_t kSleepControl = layout::kAcpiSleepControlPort - layout::kAcpiPmPort;
constexpr uint64_t kReset = layout::kAcpiResetPort - layout::kAcpiPmPort;

// ACPI 6.x, 4.8.3.7 Sleep Control Register.
constexpr uint8_t kSleepEnable = 1u << 5;
constexpr unsigned kSleepTypeShift = 2;
constexpr uint8_t kSleepTypeMask = 0x7u << kSleepTypeShift;

}  // namespace

void AcpiPowerManagement::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty()) return;
    const uint8_t value = data[0];
    if (offset == kSleepControl && (value & kSleepEnable)) {
        const uint8_t type = static_cast<uint8_t>((value & kSleepTypeMask) >> kSleepTypeShift);
        if (type == layout::kAcpiS5SleepType) {
            request(PowerRequest::PowerOff, "acpi-sleep-control");
        } else {
            spdlog::warn("[acpi-pm] guest asked for sleep type {}, only S5 (power off) is supported", type);
        }
    } else if (offset == kReset && value == layout::kAcpiResetValue) {
        request(PowerRequest::Reset, "acpi-reset-register");
    }
}

}  // namespace brig
