#include <catch2/catch.hpp>

#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::boot;
using namespace brig::layout;

namespace {
void check_entry(const E820Entry& e, uint64_t addr, uint64_t size, uint32_t type) {
    CHECK(e.addr == addr);
    CHECK(e.size == size);
    CHECK(e.type == type);
}
}  // namespace

TEST_CASE("e820 for 64 MiB: low RAM, reserved EBDA and BIOS area, RAM from 1 MiB", "[boot][e820]") {
    auto mem = GuestMemory::create(64 * MiB);
    const auto map = build_e820_map(mem);
    REQUIRE(map.size() == 3);
    check_entry(map[0], 0, 0x9fc00, kE820Ram);
    check_entry(map[1], 0x9fc00, 0x100000 - 0x9fc00, kE820Reserved);
    check_entry(map[2], 0x100000, 64 * MiB - 0x100000, kE820Ram);
}

TEST_CASE("e820 for 4 GiB skips the MMIO hole and maps the rest above 4 GiB", "[boot][e820]") {
    auto mem = GuestMemory::create(4 * GiB);
    const auto map = build_e820_map(mem);
    REQUIRE(map.size() == 4);
    check_entry(map[2], 0x100000, 3 * GiB - 0x100000, kE820Ram);
    check_entry(map[3], 4 * GiB, 1 * GiB, kE820Ram);
    // Nothing may claim the hole where the devices live.
    for (const auto& e : map) CHECK((e.addr + e.size <= kMmioHoleStart || e.addr >= kMmioHoleEnd));
}

TEST_CASE("e820 keeps the ACPI tables out of RAM", "[boot][e820]") {
    auto mem = GuestMemory::create(64 * MiB);
    for (const auto& e : build_e820_map(mem)) {
        const bool covers_acpi = e.addr <= kAcpiTables && kAcpiTables < e.addr + e.size;
        if (covers_acpi) CHECK(e.type == kE820Reserved);
    }
}
