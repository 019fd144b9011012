// Helpers shared by the ACPI unit tests. They read tables at the offsets the ACPI
// specification gives, never through table_formats.h, so a wrong struct layout
// cannot make the builder and its tests agree with each other.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/acpi/acpi_tables.h"

namespace brig::acpi::test {

inline uint64_t read_le(std::span<const uint8_t> bytes, size_t offset, size_t width) {
    REQUIRE(offset + width <= bytes.size());
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
    return value;
}
inline uint8_t u8(std::span<const uint8_t> b, size_t off) { return static_cast<uint8_t>(read_le(b, off, 1)); }
inline uint16_t u16(std::span<const uint8_t> b, size_t off) { return static_cast<uint16_t>(read_le(b, off, 2)); }
inline uint32_t u32(std::span<const uint8_t> b, size_t off) { return static_cast<uint32_t>(read_le(b, off, 4)); }
inline uint64_t u64(std::span<const uint8_t> b, size_t off) { return read_le(b, off, 8); }

inline std::string text(std::span<const uint8_t> bytes, size_t offset, size_t length) {
    REQUIRE(offset + length <= bytes.size());
    return std::string(bytes.begin() + static_cast<ptrdiff_t>(offset),
                       bytes.begin() + static_cast<ptrdiff_t>(offset + length));
}

inline uint8_t byte_sum(std::span<const uint8_t> bytes) {
    uint8_t sum = 0;
    for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
    return sum;
}

// The bytes of a table at guest address `addr`, its length taken from its own
// header (offset 4), bounds-checked against the blob.
inline std::span<const uint8_t> table_at(const AcpiBlob& blob, uint64_t addr) {
    REQUIRE(addr >= blob.base);
    REQUIRE(addr - blob.base + 8 <= blob.bytes.size());
    const std::span<const uint8_t> rest = std::span(blob.bytes).subspan(addr - blob.base);
    const uint32_t length = u32(rest, 4);
    REQUIRE(length <= rest.size());
    return rest.first(length);
}

// The bytes of a named entry of blob.tables.
inline std::span<const uint8_t> table_bytes(const AcpiBlob& blob, std::string_view signature) {
    const auto info = find_table(blob, signature);
    REQUIRE(info.has_value());
    REQUIRE(info->guest_addr >= blob.base);
    REQUIRE(info->guest_addr - blob.base + info->length <= blob.bytes.size());
    return std::span(blob.bytes).subspan(info->guest_addr - blob.base, info->length);
}

inline AcpiConfig config_with_virtio(unsigned num_cpus, unsigned virtio_devices) {
    AcpiConfig config;
    config.num_cpus = num_cpus;
    for (unsigned i = 0; i < virtio_devices; ++i) {
        config.virtio_mmio.push_back({layout::kVirtioMmioBase + i * layout::kVirtioMmioStride,
                                      layout::kVirtioMmioStride, layout::kVirtioFirstIrq + i});
    }
    return config;
}

}  // namespace brig::acpi::test
