// The System Description Table header and checksum shared by every table.
#include <cstring>
#include <string>

#include "vmm/acpi/table_formats.h"
#include "vmm/acpi/tables.h"
#include "vmm/error.h"

namespace brig::acpi::detail {

namespace {

// Copies an identifier into a fixed-size header field; the sizes are spec-fixed,
// so a mismatch is a bug in brig, reported instead of silently truncated.
template <size_t N>
void copy_id(char (&field)[N], std::string_view id) {
    if (id.size() != N) {
        throw std::logic_error("ACPI identifier \"" + std::string(id) + "\" is not " + std::to_string(N) + " bytes");
    }
    std::memcpy(field, id.data(), N);
}

}  // namespace

uint8_t checksum_complement(std::span<const uint8_t> data) {
    uint8_t sum = 0;
    for (uint8_t byte : data) {
        sum = static_cast<uint8_t>(sum + byte);
    }
    return static_cast<uint8_t>(-sum);
}

void seal_table(Bytes& table, std::string_view signature, uint8_t revision) {
    if (table.size() < sizeof(format::SdtHeader) || table.size() > UINT32_MAX) {
        throw std::logic_error("ACPI table " + std::string(signature) + " has impossible size " +
                               std::to_string(table.size()));
    }
    format::SdtHeader header{};
    copy_id(header.signature, signature);
    header.length = static_cast<uint32_t>(table.size());
    header.revision = revision;
    copy_id(header.oem_id, kOemId);
    copy_id(header.oem_table_id, kOemTableId);
    header.oem_revision = kOemRevision;
    copy_id(header.creator_id, kCreatorId);
    header.creator_revision = kCreatorRevision;
    std::memcpy(table.data(), &header, sizeof header);
    table[offsetof(format::SdtHeader, checksum)] = checksum_complement(table);
}

}  // namespace brig::acpi::detail
