// ACPI tables for a hardware-reduced x86-64 guest, generated rather than shipped
// as a blob so each one is derived from the same layout the devices use.
//
// The result is one contiguous image meant for guest physical `base`: RSDP first
// (where Linux's low-memory scan and PVH's rsdp_paddr both find it), then XSDT,
// FADT, MADT and DSDT. The FADT points at the DSDT; the XSDT lists FADT and MADT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/memory/layout.h"

namespace brig::acpi {

// One virtio-mmio transport, described to the guest as an LNRO0005 device.
struct VirtioMmioEntry {
    uint64_t base;
    uint64_t size;
    uint32_t irq;  // GSI on the in-kernel IOAPIC, edge-triggered
};

struct AcpiConfig {
    unsigned num_cpus = 1;
    bool com1 = true;
    bool pvpanic = false;  // QEMU0001 at layout::kPvpanicPort
    // A Generic Event Device (ACPI0013) on this GSI whose one event is the power button
    // (PNP0C0C), as QEMU microvm declares it; none when unset.
    std::optional<uint32_t> power_button_gsi = std::nullopt;
    std::vector<VirtioMmioEntry> virtio_mmio;
    // Each vCPU's APIC id, num_cpus of them (board/cpu_topology.h); empty: vCPU i has id i.
    std::vector<uint32_t> apic_ids = {};
    // COM ports besides COM1 (2..4, layout::kComPorts), each a PNP0501 in the DSDT.
    std::vector<unsigned> serial_ports = {};
};

struct AcpiTableInfo {
    std::string signature;  // "RSDP" for the root pointer, else the table signature
    uint64_t guest_addr;
    uint32_t length;
};

struct AcpiBlob {
    uint64_t base;  // guest physical address of bytes[0]
    uint64_t rsdp_addr;
    std::vector<uint8_t> bytes;
    std::vector<AcpiTableInfo> tables;  // in the order they appear in `bytes`
};

// Builds every table for `config` placed at `base` (16-byte aligned). Throws
// InvalidArgument when the configuration cannot be described (num_cpus not in
// 1..254, APIC ids not one per vCPU, distinct and below 254, a virtio-mmio range outside 32 bits or overlapping another, an IRQ that
// is not a free IOAPIC pin) or the image would exceed layout::kAcpiTablesMax.
AcpiBlob build_acpi_tables(const AcpiConfig& config, uint64_t base = layout::kAcpiTables);

// The table with this signature ("RSDP", "XSDT", "FACP", "APIC", "DSDT"), if any.
std::optional<AcpiTableInfo> find_table(const AcpiBlob& blob, std::string_view signature);

}  // namespace brig::acpi
