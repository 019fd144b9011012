#include <catch2/catch.hpp>
#include <optional>

#include "vmm/memory/layout.h"
#include "vmm/platform/acpi_pm.h"
#include "vmm/platform/i8042.h"

using namespace brig;

namespace {
struct Recorder {
    std::optional<PowerRequest> last;
    PowerRequestHandler handler() {
        return [this](PowerRequest r, std::string_view) { last = r; };
    }
};
void outb(BusDevice& d, uint64_t off, uint8_t v) { d.write(off, std::span(&v, 1)); }
}  // namespace

TEST_CASE("ACPI sleep control S5 powers off, other sleep types do not", "[platform]") {
    Recorder rec;
    AcpiPowerManagement pm(rec.handler());
    outb(pm, 0, (3 << 2) | (1 << 5));  // S3
    CHECK_FALSE(rec.last.has_value());
    outb(pm, 0, (5 << 2));  // S5 without SLP_EN
    CHECK_FALSE(rec.last.has_value());
    outb(pm, 0, (5 << 2) | (1 << 5));
    REQUIRE(rec.last.has_value());
    CHECK(*rec.last == PowerRequest::PowerOff);
}

TEST_CASE("ACPI reset register resets only with the FADT reset value", "[platform]") {
    Recorder rec;
    AcpiPowerManagement pm(rec.handler());
    outb(pm, layout::kAcpiResetPort - layout::kAcpiPmPort, 0x06);
    CHECK_FALSE(rec.last.has_value());
    outb(pm, layout::kAcpiResetPort - layout::kAcpiPmPort, layout::kAcpiResetValue);
    REQUIRE(rec.last.has_value());
    CHECK(*rec.last == PowerRequest::Reset);
}

TEST_CASE("i8042 command 0xFE on port 0x64 resets", "[platform]") {
    Recorder rec;
    I8042ResetController kbd(rec.handler());
    outb(kbd, 0, 0xfe);  // data port: not a command
    CHECK_FALSE(rec.last.has_value());
    outb(kbd, 4, 0xfe);
    REQUIRE(rec.last.has_value());
    CHECK(*rec.last == PowerRequest::Reset);
}
