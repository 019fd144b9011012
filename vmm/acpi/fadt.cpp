// FADT for a hardware-reduced platform: no PM1/GPE blocks, no SCI, no FACS. Power
// off and reset go through the sleep control and reset registers, which the
// board's ACPI PM device serves at layout::kAcpiPmPort.
#include <string_view>

#include "vmm/acpi/table_formats.h"
#include "vmm/acpi/tables.h"
#include "vmm/memory/layout.h"

namespace brig::acpi::detail {

namespace {

constexpr format::GenericAddress byte_io_register(uint16_t port) {
    return format::GenericAddress{
        .address_space_id = format::kAddressSpaceSystemIo,
        .register_bit_width = 8,
        .register_bit_offset = 0,
        .access_size = format::kAccessSizeByte,
        .address = port,
    };
}

// "BRIGVMM " read as a little-endian 64-bit number, as the field is defined.
constexpr uint64_t kHypervisorVendorIdentity = [] {
    constexpr std::string_view id = "BRIGVMM ";
    uint64_t value = 0;
    for (size_t i = 0; i < id.size(); ++i) value |= uint64_t{static_cast<uint8_t>(id[i])} << (8 * i);
    return value;
}();

}  // namespace

Bytes build_fadt(uint64_t dsdt_addr) {
    format::Fadt fadt{};
    // There is no power or sleep button; "control method" with no such device
    // present is how the spec says "none".
    fadt.flags = format::kFadtFlagHardwareReduced | format::kFadtFlagResetRegSupported |
                 format::kFadtFlagPowerButtonIsControlMethod | format::kFadtFlagSleepButtonIsControlMethod;
    // No VGA to probe and no CMOS RTC emulated. The 8042 flag stays clear: the guest
    // reboots through RESET_REG, so it has no business driving a keyboard controller.
    fadt.iapc_boot_arch = format::kBootArchVgaNotPresent | format::kBootArchCmosRtcNotPresent;
    fadt.reset_reg = byte_io_register(layout::kAcpiResetPort);
    fadt.reset_value = layout::kAcpiResetValue;
    fadt.fadt_minor_version = format::kFadtMinorVersion;
    // Only the 64-bit pointer: the spec says the 32-bit DSDT field is ignored then,
    // and leaving it 0 means the two can never disagree.
    fadt.x_dsdt = dsdt_addr;
    fadt.sleep_control_reg = byte_io_register(layout::kAcpiSleepControlPort);
    fadt.sleep_status_reg = byte_io_register(layout::kAcpiSleepStatusPort);
    fadt.hypervisor_vendor_identity = kHypervisorVendorIdentity;

    Bytes table;
    append_struct(table, fadt);
    seal_table(table, "FACP", format::kFadtRevision);
    return table;
}

}  // namespace brig::acpi::detail
