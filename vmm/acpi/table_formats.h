// Byte layouts of the ACPI tables brig generates, field names as in ACPI 6.5
// chapter 5. Every struct is packed and its size and key offsets are pinned by
// static_assert, so a typo in a field list fails the build instead of shifting
// everything after it in the guest's view.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace brig::acpi::format {

static_assert(std::endian::native == std::endian::little, "ACPI tables are little-endian");

// 5.2.5.3 Root System Description Pointer, ACPI 2.0+ form.
struct [[gnu::packed]] Rsdp {
    char signature[8];  // "RSD PTR "
    uint8_t checksum;   // covers the first 20 bytes (the ACPI 1.0 structure)
    char oem_id[6];
    uint8_t revision;       // 2: XSDT present
    uint32_t rsdt_address;  // 0: brig provides only the XSDT
    uint32_t length;        // whole structure, 36
    uint64_t xsdt_address;
    uint8_t extended_checksum;  // covers all `length` bytes
    uint8_t reserved[3];
};
static_assert(sizeof(Rsdp) == 36);
static_assert(offsetof(Rsdp, length) == 20);
constexpr size_t kRsdpV1Size = offsetof(Rsdp, length);
constexpr size_t kRsdpAlignment = 16;

// 5.2.6 System Description Table Header, common to every table but the RSDP.
struct [[gnu::packed]] SdtHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;  // whole table sums to zero
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

// 5.2.3.2 Generic Address Structure.
struct [[gnu::packed]] GenericAddress {
    uint8_t address_space_id;
    uint8_t register_bit_width;
    uint8_t register_bit_offset;
    uint8_t access_size;
    uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);
constexpr uint8_t kAddressSpaceSystemIo = 1;
constexpr uint8_t kAccessSizeByte = 1;

// 5.2.9 Fixed ACPI Description Table, revision 6 (ACPI 6.0 and later).
struct [[gnu::packed]] Fadt {
    SdtHeader header;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_req;
    uint8_t pstate_cnt;
    uint32_t pm1a_evt_blk;
    uint32_t pm1b_evt_blk;
    uint32_t pm1a_cnt_blk;
    uint32_t pm1b_cnt_blk;
    uint32_t pm2_cnt_blk;
    uint32_t pm_tmr_blk;
    uint32_t gpe0_blk;
    uint32_t gpe1_blk;
    uint8_t pm1_evt_len;
    uint8_t pm1_cnt_len;
    uint8_t pm2_cnt_len;
    uint8_t pm_tmr_len;
    uint8_t gpe0_blk_len;
    uint8_t gpe1_blk_len;
    uint8_t gpe1_base;
    uint8_t cst_cnt;
    uint16_t p_lvl2_lat;
    uint16_t p_lvl3_lat;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alrm;
    uint8_t mon_alrm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    GenericAddress reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t fadt_minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    GenericAddress x_pm1a_evt_blk;
    GenericAddress x_pm1b_evt_blk;
    GenericAddress x_pm1a_cnt_blk;
    GenericAddress x_pm1b_cnt_blk;
    GenericAddress x_pm2_cnt_blk;
    GenericAddress x_pm_tmr_blk;
    GenericAddress x_gpe0_blk;
    GenericAddress x_gpe1_blk;
    GenericAddress sleep_control_reg;
    GenericAddress sleep_status_reg;
    uint64_t hypervisor_vendor_identity;
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);
static_assert(offsetof(Fadt, hypervisor_vendor_identity) == 268);
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorVersion = 3;  // ACPI 6.3: the newest the Debian 12 iasl knows

// FADT Fixed Feature Flags (Table 5.10).
constexpr uint32_t kFadtFlagPowerButtonIsControlMethod = 1u << 4;  // PWR_BUTTON
constexpr uint32_t kFadtFlagSleepButtonIsControlMethod = 1u << 5;  // SLP_BUTTON
constexpr uint32_t kFadtFlagResetRegSupported = 1u << 10;          // RESET_REG_SUP
constexpr uint32_t kFadtFlagHardwareReduced = 1u << 20;            // HW_REDUCED_ACPI

// FADT IA-PC Boot Architecture Flags (Table 5.11).
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

// 5.2.12 Multiple APIC Description Table.
struct [[gnu::packed]] MadtHeader {
    SdtHeader header;
    uint32_t local_apic_address;
    uint32_t flags;  // PCAT_COMPAT (bit 0) left clear: no dual-8259 setup to hand over
};
static_assert(sizeof(MadtHeader) == 44);
constexpr uint8_t kMadtRevision = 5;

// 5.2.12.2 Processor Local APIC Structure.
struct [[gnu::packed]] MadtLocalApic {
    uint8_t type;
    uint8_t length;
    uint8_t acpi_processor_uid;
    uint8_t apic_id;
    uint32_t flags;
};
static_assert(sizeof(MadtLocalApic) == 8);
constexpr uint8_t kMadtTypeLocalApic = 0;
constexpr uint32_t kLocalApicEnabled = 1u << 0;

// 5.2.12.3 I/O APIC Structure.
struct [[gnu::packed]] MadtIoApic {
    uint8_t type;
    uint8_t length;
    uint8_t io_apic_id;
    uint8_t reserved;
    uint32_t io_apic_address;
    uint32_t global_system_interrupt_base;
};
static_assert(sizeof(MadtIoApic) == 12);
constexpr uint8_t kMadtTypeIoApic = 1;

// 5.2.12.5 Interrupt Source Override Structure.
struct [[gnu::packed]] MadtInterruptSourceOverride {
    uint8_t type;
    uint8_t length;
    uint8_t bus;     // 0: ISA
    uint8_t source;  // bus-relative IRQ
    uint32_t global_system_interrupt;
    uint16_t flags;  // MPS INTI flags; 0 = conforms to the bus (ISA: edge, active high)
};
static_assert(sizeof(MadtInterruptSourceOverride) == 10);
constexpr uint8_t kMadtTypeInterruptSourceOverride = 2;
constexpr uint8_t kIsaBus = 0;

// 5.2.12.7 Local APIC NMI Structure.
struct [[gnu::packed]] MadtLocalApicNmi {
    uint8_t type;
    uint8_t length;
    uint8_t acpi_processor_uid;  // 0xff: all processors
    uint16_t flags;
    uint8_t local_apic_lint;
};
static_assert(sizeof(MadtLocalApicNmi) == 6);
constexpr uint8_t kMadtTypeLocalApicNmi = 4;
constexpr uint8_t kAllProcessors = 0xff;

// 5.2.11.2 DSDT: revision 2 makes AML integers 64 bits wide.
constexpr uint8_t kDsdtRevision = 2;
// 5.2.8 XSDT.
constexpr uint8_t kXsdtRevision = 1;

}  // namespace brig::acpi::format
