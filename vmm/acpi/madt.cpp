// MADT: one local APIC per vCPU, KVM's in-kernel IOAPIC, and the ISA overrides
// that make the PC's wiring (PIT on IOAPIC pin 2) explicit.
#include <algorithm>

#include "vmm/acpi/table_formats.h"
#include "vmm/acpi/tables.h"
#include "vmm/memory/layout.h"

namespace brig::acpi::detail {

namespace {
constexpr uint8_t kPitIsaIrq = 0;
constexpr uint32_t kPitGsi = 2;           // KVM's IOAPIC, like a real PC, wires the PIT to pin 2
constexpr uint8_t kNmiLocalApicLint = 1;  // LINT1 carries NMI on every PC-compatible
constexpr uint16_t kMpsIntiConformsToBus = 0;
static_assert(layout::kLapic <= UINT32_MAX && layout::kIoapic <= UINT32_MAX, "MADT APIC address fields are 32 bits");
}  // namespace

Bytes build_madt(const std::vector<uint32_t>& apic_ids) {
    Bytes table;
    format::MadtHeader header{};
    header.local_apic_address = static_cast<uint32_t>(layout::kLapic);
    append_struct(table, header);

    // The ACPI processor UID is brig's vCPU index; the APIC id comes from the topology
    // (vCPU i's, in the same order as the vCPUs are created).
    uint32_t highest = 0;
    for (unsigned cpu = 0; cpu < apic_ids.size(); ++cpu) {
        highest = std::max(highest, apic_ids[cpu]);
        append_struct(table, format::MadtLocalApic{
                                 .type = format::kMadtTypeLocalApic,
                                 .length = sizeof(format::MadtLocalApic),
                                 .acpi_processor_uid = static_cast<uint8_t>(cpu),
                                 .apic_id = static_cast<uint8_t>(apic_ids[cpu]),
                                 .flags = format::kLocalApicEnabled,
                             });
    }

    // The IOAPIC takes the first id after the local APICs so no id is shared.
    append_struct(table, format::MadtIoApic{
                             .type = format::kMadtTypeIoApic,
                             .length = sizeof(format::MadtIoApic),
                             .io_apic_id = static_cast<uint8_t>(highest + 1),
                             .reserved = 0,
                             .io_apic_address = static_cast<uint32_t>(layout::kIoapic),
                             .global_system_interrupt_base = 0,
                         });

    append_struct(table, format::MadtInterruptSourceOverride{
                             .type = format::kMadtTypeInterruptSourceOverride,
                             .length = sizeof(format::MadtInterruptSourceOverride),
                             .bus = format::kIsaBus,
                             .source = kPitIsaIrq,
                             .global_system_interrupt = kPitGsi,
                             .flags = kMpsIntiConformsToBus,
                         });

    append_struct(table, format::MadtLocalApicNmi{
                             .type = format::kMadtTypeLocalApicNmi,
                             .length = sizeof(format::MadtLocalApicNmi),
                             .acpi_processor_uid = format::kAllProcessors,
                             .flags = kMpsIntiConformsToBus,
                             .local_apic_lint = kNmiLocalApicLint,
                         });

    seal_table(table, "APIC", format::kMadtRevision);
    return table;
}

}  // namespace brig::acpi::detail
