// RSDP and XSDT: how the guest finds everything else.
#include <cstring>

#include "vmm/acpi/table_formats.h"
#include "vmm/acpi/tables.h"

namespace brig::acpi::detail {

namespace {
constexpr uint8_t kRsdpRevision = 2;  // ACPI 2.0+: XSDT and extended checksum valid
}  // namespace

Bytes build_xsdt(std::span<const uint64_t> table_addrs) {
    Bytes table(sizeof(format::SdtHeader));
    for (uint64_t addr : table_addrs) {
        append_struct(table, addr);
    }
    seal_table(table, "XSDT", format::kXsdtRevision);
    return table;
}

Bytes build_rsdp(uint64_t xsdt_addr) {
    format::Rsdp rsdp{};
    std::memcpy(rsdp.signature, "RSD PTR ", sizeof rsdp.signature);
    std::memcpy(rsdp.oem_id, kOemId.data(), sizeof rsdp.oem_id);
    rsdp.revision = kRsdpRevision;
    // No RSDT: its 32-bit entries add nothing when every OS we boot reads the XSDT.
    rsdp.rsdt_address = 0;
    rsdp.length = sizeof rsdp;
    rsdp.xsdt_address = xsdt_addr;

    Bytes bytes;
    append_struct(bytes, rsdp);
    bytes[offsetof(format::Rsdp, checksum)] = checksum_complement(std::span(bytes).first(format::kRsdpV1Size));
    bytes[offsetof(format::Rsdp, extended_checksum)] = checksum_complement(bytes);
    return bytes;
}

}  // namespace brig::acpi::detail
