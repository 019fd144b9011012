// Builders for the individual ACPI tables; internal to vmm/acpi. Each returns the
// complete table (header, body, checksum). Inputs are validated by
// build_acpi_tables() before they get here.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vmm/acpi/acpi_tables.h"

namespace brig::acpi::detail {

using Bytes = std::vector<uint8_t>;

// Identity stamped into every header: OEM fields name brig, not a firmware vendor.
constexpr std::string_view kOemId = "BRIG  ";         // 6 bytes
constexpr std::string_view kOemTableId = "BRIGVMM ";  // 8 bytes
constexpr uint32_t kOemRevision = 1;
constexpr std::string_view kCreatorId = "BRIG";  // 4 bytes
constexpr uint32_t kCreatorRevision = 1;

// Fills the SdtHeader at the start of `table` (which must already hold at least a
// header's worth of bytes) and sets its checksum so all bytes sum to zero.
void seal_table(Bytes& table, std::string_view signature, uint8_t revision);
// The value that makes the bytes of `data` sum to zero modulo 256.
uint8_t checksum_complement(std::span<const uint8_t> data);

// Appends the in-memory bytes of a packed table structure (see table_formats.h).
template <typename T>
void append_struct(Bytes& out, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const size_t at = out.size();
    out.resize(at + sizeof value);
    std::memcpy(out.data() + at, &value, sizeof value);
}

Bytes build_dsdt(const AcpiConfig& config);
Bytes build_madt(const std::vector<uint32_t>& apic_ids);  // each < 254, distinct
Bytes build_fadt(uint64_t dsdt_addr);
Bytes build_xsdt(std::span<const uint64_t> table_addrs);
Bytes build_rsdp(uint64_t xsdt_addr);

}  // namespace brig::acpi::detail
