#include "vmm/acpi/acpi_tables.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "vmm/acpi/table_formats.h"
#include "vmm/acpi/tables.h"
#include "vmm/error.h"

namespace brig::acpi {

namespace {

using detail::Bytes;

// xAPIC ids are 8 bits and 0xff is broadcast; the IOAPIC takes id num_cpus, so
// 254 vCPUs use ids 0..253 and the IOAPIC 254.
constexpr unsigned kMaxCpus = 254;
// KVM's in-kernel IOAPIC has 24 pins (KVM_IOAPIC_NUM_PINS); GSIs map 1:1 onto them.
constexpr uint32_t kIoapicPins = 24;
constexpr uint64_t k4GiB = uint64_t{1} << 32;
constexpr size_t kTableAlignment = 16;

std::string hex(uint64_t value) {
    char text[19];
    std::snprintf(text, sizeof text, "%#llx", static_cast<unsigned long long>(value));
    return text;
}

void validate_virtio_mmio(const std::vector<VirtioMmioEntry>& entries) {
    for (size_t i = 0; i < entries.size(); ++i) {
        const VirtioMmioEntry& entry = entries[i];
        const std::string what = "virtio-mmio device " + std::to_string(i) + " at " + hex(entry.base);
        // Memory32Fixed can only describe windows entirely below 4 GiB.
        if (entry.size == 0 || entry.size > k4GiB || entry.base > k4GiB - entry.size) {
            throw InvalidArgument(what + ": window of " + hex(entry.size) +
                                  " bytes must be non-empty and end at or below 4 GiB");
        }
        // Below kVirtioFirstIrq sit the ISA lines (PIT, COM1, ...), which are not ours to hand out.
        if (entry.irq < layout::kVirtioFirstIrq || entry.irq >= kIoapicPins) {
            throw InvalidArgument(what + ": IRQ " + std::to_string(entry.irq) + " is outside " +
                                  std::to_string(layout::kVirtioFirstIrq) + ".." + std::to_string(kIoapicPins - 1));
        }
        for (size_t j = 0; j < i; ++j) {
            const VirtioMmioEntry& other = entries[j];
            if (entry.irq == other.irq) {
                throw InvalidArgument(what + ": IRQ " + std::to_string(entry.irq) +
                                      " is already used by virtio-mmio device " + std::to_string(j));
            }
            if (entry.base < other.base + other.size && other.base < entry.base + entry.size) {
                throw InvalidArgument(what + ": window overlaps virtio-mmio device " + std::to_string(j) + " at " +
                                      hex(other.base));
            }
        }
    }
}

void validate(const AcpiConfig& config, uint64_t base) {
    if (config.num_cpus == 0 || config.num_cpus > kMaxCpus) {
        throw InvalidArgument("ACPI tables: " + std::to_string(config.num_cpus) +
                              " vCPUs requested, supported range is 1.." + std::to_string(kMaxCpus));
    }
    if (!config.apic_ids.empty()) {
        if (config.apic_ids.size() != config.num_cpus)
            throw InvalidArgument("ACPI tables: " + std::to_string(config.apic_ids.size()) + " APIC ids for " +
                                  std::to_string(config.num_cpus) + " vCPUs");
        std::vector<uint32_t> sorted = config.apic_ids;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
            throw InvalidArgument("ACPI tables: two vCPUs share an APIC id");
        // The IOAPIC takes the id after the highest, and 0xff is broadcast.
        if (sorted.back() >= kMaxCpus)
            throw InvalidArgument("ACPI tables: APIC id " + std::to_string(sorted.back()) + " is above " +
                                  std::to_string(kMaxCpus - 1));
    }
    if (base % format::kRsdpAlignment != 0) {
        throw InvalidArgument("ACPI tables: base " + hex(base) + " is not 16-byte aligned as the RSDP must be");
    }
    std::vector<unsigned> ports = config.serial_ports;
    std::sort(ports.begin(), ports.end());
    for (unsigned num : ports)
        if (num < 2 || num > layout::kComPorts.size())
            throw InvalidArgument("ACPI tables: COM" + std::to_string(num) + " is not one of COM2..COM" +
                                  std::to_string(layout::kComPorts.size()));
    if (std::adjacent_find(ports.begin(), ports.end()) != ports.end())
        throw InvalidArgument("ACPI tables: a COM port is listed twice");
    validate_virtio_mmio(config.virtio_mmio);
}

size_t align_up(size_t offset) { return (offset + kTableAlignment - 1) / kTableAlignment * kTableAlignment; }

}  // namespace

AcpiBlob build_acpi_tables(const AcpiConfig& config, uint64_t base) {
    validate(config, base);

    // Build what does not depend on placement first, then lay out
    // RSDP, XSDT, FADT, MADT, DSDT and fill in the pointers.
    std::vector<uint32_t> apic_ids = config.apic_ids;
    if (apic_ids.empty())
        for (unsigned cpu = 0; cpu < config.num_cpus; ++cpu) apic_ids.push_back(cpu);
    const Bytes madt = detail::build_madt(apic_ids);
    const Bytes dsdt = detail::build_dsdt(config);
    constexpr size_t kXsdtEntries = 2;  // FADT, MADT
    const size_t rsdp_offset = 0;
    const size_t xsdt_offset = align_up(rsdp_offset + sizeof(format::Rsdp));
    const size_t fadt_offset = align_up(xsdt_offset + sizeof(format::SdtHeader) + kXsdtEntries * sizeof(uint64_t));
    const size_t madt_offset = align_up(fadt_offset + sizeof(format::Fadt));
    const size_t dsdt_offset = align_up(madt_offset + madt.size());
    const size_t total = dsdt_offset + dsdt.size();
    if (total > layout::kAcpiTablesMax || base > UINT64_MAX - total) {
        throw InvalidArgument("ACPI tables need " + std::to_string(total) + " bytes at " + hex(base) + ", at most " +
                              std::to_string(layout::kAcpiTablesMax) + " fit");
    }

    const std::array<uint64_t, kXsdtEntries> xsdt_entries{base + fadt_offset, base + madt_offset};
    const Bytes fadt = detail::build_fadt(base + dsdt_offset);
    const Bytes xsdt = detail::build_xsdt(xsdt_entries);
    const Bytes rsdp = detail::build_rsdp(base + xsdt_offset);

    AcpiBlob blob{.base = base, .rsdp_addr = base + rsdp_offset, .bytes = Bytes(total, 0), .tables = {}};
    auto place = [&](std::string signature, size_t offset, const Bytes& table) {
        std::copy(table.begin(), table.end(), blob.bytes.begin() + static_cast<ptrdiff_t>(offset));
        blob.tables.push_back({std::move(signature), base + offset, static_cast<uint32_t>(table.size())});
    };
    place("RSDP", rsdp_offset, rsdp);
    place("XSDT", xsdt_offset, xsdt);
    place("FACP", fadt_offset, fadt);
    place("APIC", madt_offset, madt);
    place("DSDT", dsdt_offset, dsdt);
    return blob;
}

std::optional<AcpiTableInfo> find_table(const AcpiBlob& blob, std::string_view signature) {
    for (const AcpiTableInfo& table : blob.tables) {
        if (table.signature == signature) return table;
    }
    return std::nullopt;
}

}  // namespace brig::acpi
