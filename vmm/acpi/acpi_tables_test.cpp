#include "vmm/acpi/acpi_tables.h"

#include <catch2/catch.hpp>
#include <map>

#include "vmm/acpi/acpi_test_support.h"
#include "vmm/error.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::acpi;
using namespace brig::acpi::test;

namespace {

// Offsets from ACPI 6.5 chapter 5, written out independently of table_formats.h.
constexpr size_t kHeaderSize = 36;
constexpr size_t kHeaderLength = 4, kHeaderRevision = 8, kHeaderOemId = 10, kHeaderOemTableId = 16;
constexpr size_t kRsdpChecksumV1Length = 20, kRsdpRevision = 15, kRsdpRsdt = 16, kRsdpLength = 20, kRsdpXsdt = 24;
constexpr size_t kFadtIapcBootArch = 109, kFadtFlags = 112, kFadtResetReg = 116, kFadtResetValue = 128,
                 kFadtXDsdt = 140, kFadtDsdt = 40, kFadtSleepControl = 244, kFadtSleepStatus = 256;
constexpr size_t kMadtLocalApicAddress = 36, kMadtFirstEntry = 44;
constexpr uint32_t kFlagPwrButton = 1u << 4, kFlagSlpButton = 1u << 5, kFlagResetRegSup = 1u << 10,
                   kFlagHwReduced = 1u << 20;
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2, kBootArchMsiNotSupported = 1u << 3;

// An 8-bit SystemIO Generic Address Structure for `port`.
void check_byte_io_gas(std::span<const uint8_t> fadt, size_t offset, uint16_t port) {
    INFO("GAS at FADT offset " << offset);
    CHECK(u8(fadt, offset + 0) == 1);  // SystemIO
    CHECK(u8(fadt, offset + 1) == 8);  // bit width
    CHECK(u8(fadt, offset + 2) == 0);  // bit offset
    CHECK(u8(fadt, offset + 3) == 1);  // byte access
    CHECK(u64(fadt, offset + 4) == port);
}

struct MadtEntry {
    uint8_t type;
    std::span<const uint8_t> bytes;
};

std::vector<MadtEntry> madt_entries(std::span<const uint8_t> madt) {
    std::vector<MadtEntry> entries;
    size_t offset = kMadtFirstEntry;
    while (offset < madt.size()) {
        const uint8_t length = u8(madt, offset + 1);
        REQUIRE(length >= 2);
        REQUIRE(offset + length <= madt.size());
        entries.push_back({u8(madt, offset), madt.subspan(offset, length)});
        offset += length;
    }
    return entries;
}

}  // namespace

TEST_CASE("every ACPI table sums to zero and carries brig's identity", "[acpi]") {
    const AcpiConfig config =
        GENERATE(AcpiConfig{}, config_with_virtio(4, 3), AcpiConfig{.num_cpus = 2, .com1 = false, .virtio_mmio = {}});
    const AcpiBlob blob = build_acpi_tables(config);

    REQUIRE(blob.tables.size() == 5);
    CHECK(blob.bytes.size() <= layout::kAcpiTablesMax);
    uint64_t previous_end = blob.base;
    for (const AcpiTableInfo& info : blob.tables) {
        INFO("table " << info.signature);
        CHECK(info.guest_addr >= previous_end);  // in order, no overlap
        previous_end = info.guest_addr + info.length;
        const auto bytes = table_bytes(blob, info.signature);
        if (info.signature == "RSDP") continue;  // own layout, checked below
        CHECK(text(bytes, 0, 4) == info.signature);
        CHECK(u32(bytes, kHeaderLength) == info.length);
        CHECK(byte_sum(bytes) == 0);
        CHECK(text(bytes, kHeaderOemId, 6) == "BRIG  ");
        CHECK(text(bytes, kHeaderOemTableId, 8) == "BRIGVMM ");
    }
    CHECK(previous_end == blob.base + blob.bytes.size());
}

TEST_CASE("RSDP comes first, is revision 2 and both checksums hold", "[acpi]") {
    const AcpiBlob blob = build_acpi_tables(AcpiConfig{});
    CHECK(blob.base == layout::kAcpiTables);
    CHECK(blob.rsdp_addr == layout::kAcpiTables);
    CHECK(blob.rsdp_addr % 16 == 0);
    CHECK(find_table(blob, "RSDP")->guest_addr == blob.rsdp_addr);

    const auto rsdp = table_bytes(blob, "RSDP");
    REQUIRE(rsdp.size() == 36);
    REQUIRE(rsdp.data() == blob.bytes.data());
    CHECK(text(rsdp, 0, 8) == "RSD PTR ");
    CHECK(u8(rsdp, kRsdpRevision) == 2);
    CHECK(u32(rsdp, kRsdpLength) == 36);
    CHECK(u32(rsdp, kRsdpRsdt) == 0);
    CHECK(byte_sum(rsdp.first(kRsdpChecksumV1Length)) == 0);
    CHECK(byte_sum(rsdp) == 0);
    CHECK(u64(rsdp, kRsdpXsdt) == find_table(blob, "XSDT")->guest_addr);
}

TEST_CASE("XSDT lists FADT and MADT, and the FADT leads to the DSDT", "[acpi]") {
    const AcpiBlob blob = build_acpi_tables(config_with_virtio(1, 1));
    const auto rsdp = std::span(blob.bytes).first(36);
    const auto xsdt = table_at(blob, u64(rsdp, kRsdpXsdt));
    REQUIRE(text(xsdt, 0, 4) == "XSDT");
    REQUIRE((xsdt.size() - kHeaderSize) % 8 == 0);

    std::map<std::string, uint64_t> listed;
    for (size_t offset = kHeaderSize; offset < xsdt.size(); offset += 8) {
        const uint64_t addr = u64(xsdt, offset);
        listed[text(table_at(blob, addr), 0, 4)] = addr;
    }
    CHECK(listed.size() == 2);
    REQUIRE(listed.count("FACP") == 1);
    REQUIRE(listed.count("APIC") == 1);
    CHECK(listed.count("DSDT") == 0);  // reached only through the FADT

    const auto fadt = table_at(blob, listed["FACP"]);
    const auto dsdt = table_at(blob, u64(fadt, kFadtXDsdt));
    CHECK(text(dsdt, 0, 4) == "DSDT");
    CHECK(u64(fadt, kFadtXDsdt) == find_table(blob, "DSDT")->guest_addr);
    CHECK(u32(fadt, kFadtDsdt) == 0);  // the 32-bit pointer is unused, so it cannot disagree
}

TEST_CASE("FADT describes a hardware-reduced platform with sleep and reset registers", "[acpi]") {
    const AcpiBlob blob = build_acpi_tables(AcpiConfig{});
    const auto fadt = table_bytes(blob, "FACP");
    REQUIRE(fadt.size() == 276);
    CHECK(u8(fadt, kHeaderRevision) == 6);

    const uint32_t flags = u32(fadt, kFadtFlags);
    CHECK((flags & kFlagHwReduced) != 0);
    CHECK((flags & kFlagResetRegSup) != 0);
    CHECK((flags & kFlagPwrButton) != 0);
    CHECK((flags & kFlagSlpButton) != 0);

    const uint16_t boot_arch = u16(fadt, kFadtIapcBootArch);
    CHECK((boot_arch & kBootArchVgaNotPresent) != 0);
    CHECK((boot_arch & kBootArchMsiNotSupported) == 0);

    check_byte_io_gas(fadt, kFadtSleepControl, layout::kAcpiSleepControlPort);
    check_byte_io_gas(fadt, kFadtSleepStatus, layout::kAcpiSleepStatusPort);
    check_byte_io_gas(fadt, kFadtResetReg, layout::kAcpiResetPort);
    CHECK(u8(fadt, kFadtResetValue) == layout::kAcpiResetValue);
}

TEST_CASE("MADT has one enabled local APIC per vCPU and a non-colliding IOAPIC", "[acpi]") {
    const unsigned cpus = GENERATE(1u, 4u, 254u);
    INFO(cpus << " vCPUs");
    const AcpiBlob blob = build_acpi_tables(AcpiConfig{.num_cpus = cpus, .com1 = true, .virtio_mmio = {}});
    const auto madt = table_bytes(blob, "APIC");
    CHECK(u32(madt, kMadtLocalApicAddress) == layout::kLapic);

    std::map<uint8_t, std::vector<std::span<const uint8_t>>> by_type;
    for (const MadtEntry& entry : madt_entries(madt)) by_type[entry.type].push_back(entry.bytes);

    const auto& lapics = by_type[0];
    REQUIRE(lapics.size() == cpus);
    for (unsigned i = 0; i < cpus; ++i) {
        REQUIRE(lapics[i].size() == 8);
        CHECK(u8(lapics[i], 2) == i);         // ACPI processor UID
        CHECK(u8(lapics[i], 3) == i);         // APIC id
        CHECK((u32(lapics[i], 4) & 1) == 1);  // enabled
    }

    REQUIRE(by_type[1].size() == 1);
    const auto ioapic = by_type[1][0];
    REQUIRE(ioapic.size() == 12);
    CHECK(u8(ioapic, 2) == cpus);  // above every local APIC id
    CHECK(u32(ioapic, 4) == layout::kIoapic);
    CHECK(u32(ioapic, 8) == 0);  // GSI base

    REQUIRE(by_type[2].size() == 1);
    const auto pit_override = by_type[2][0];
    CHECK(u8(pit_override, 2) == 0);   // ISA
    CHECK(u8(pit_override, 3) == 0);   // IRQ 0
    CHECK(u32(pit_override, 4) == 2);  // -> GSI 2

    REQUIRE(by_type[4].size() == 1);
    CHECK(u8(by_type[4][0], 2) == 0xff);  // all processors
    CHECK(u8(by_type[4][0], 5) == 1);     // LINT1
}

TEST_CASE("the image can be placed at another base and the pointers follow", "[acpi]") {
    const uint64_t base = 0x40000;
    const AcpiBlob blob = build_acpi_tables(config_with_virtio(2, 1), base);
    CHECK(blob.base == base);
    CHECK(blob.rsdp_addr == base);
    const auto rsdp = std::span(blob.bytes).first(36);
    CHECK(u64(rsdp, kRsdpXsdt) == find_table(blob, "XSDT")->guest_addr);
    const auto fadt = table_bytes(blob, "FACP");
    CHECK(u64(fadt, kFadtXDsdt) == find_table(blob, "DSDT")->guest_addr);
    CHECK(find_table(blob, "DSDT")->guest_addr > base);
    CHECK_FALSE(find_table(blob, "SSDT").has_value());
}

TEST_CASE("configurations ACPI cannot describe are rejected", "[acpi]") {
    CHECK_THROWS_AS(build_acpi_tables(AcpiConfig{.num_cpus = 0, .com1 = true, .virtio_mmio = {}}), InvalidArgument);
    CHECK_THROWS_AS(build_acpi_tables(AcpiConfig{.num_cpus = 255, .com1 = true, .virtio_mmio = {}}), InvalidArgument);
    CHECK_NOTHROW(build_acpi_tables(AcpiConfig{.num_cpus = 254, .com1 = true, .virtio_mmio = {}}));

    CHECK_THROWS_AS(build_acpi_tables(AcpiConfig{}, layout::kAcpiTables + 8), InvalidArgument);
    // An image that would run past the end of the address space does not fit.
    CHECK_THROWS_AS(build_acpi_tables(AcpiConfig{}, UINT64_MAX & ~uint64_t{0xf}), InvalidArgument);

    auto with = [](std::vector<VirtioMmioEntry> entries) {
        return AcpiConfig{.num_cpus = 1, .com1 = true, .virtio_mmio = std::move(entries)};
    };
    const uint64_t b = layout::kVirtioMmioBase;
    CHECK_NOTHROW(build_acpi_tables(with({{b, 0x1000, 5}, {b + 0x1000, 0x1000, 23}})));
    // IRQs: ISA lines (below kVirtioFirstIrq, including COM1's 4), past the IOAPIC, duplicates.
    CHECK_THROWS_AS(build_acpi_tables(with({{b, 0x1000, layout::kCom1Irq}})), InvalidArgument);
    CHECK_THROWS_AS(build_acpi_tables(with({{b, 0x1000, 24}})), InvalidArgument);
    CHECK_THROWS_AS(build_acpi_tables(with({{b, 0x1000, 5}, {b + 0x1000, 0x1000, 5}})), InvalidArgument);
    // Windows: empty, overlapping, above or crossing 4 GiB.
    CHECK_THROWS_AS(build_acpi_tables(with({{b, 0, 5}})), InvalidArgument);
    CHECK_THROWS_AS(build_acpi_tables(with({{b, 0x2000, 5}, {b + 0x1000, 0x1000, 6}})), InvalidArgument);
    CHECK_THROWS_AS(build_acpi_tables(with({{layout::GiB * 4, 0x1000, 5}})), InvalidArgument);
    CHECK_THROWS_AS(build_acpi_tables(with({{0xfffff000, 0x2000, 5}})), InvalidArgument);
    CHECK_NOTHROW(build_acpi_tables(with({{0xfffff000, 0x1000, 5}})));
    CHECK_THROWS_AS(build_acpi_tables(with({{UINT64_MAX - 0xfff, 0x1000, 5}})), InvalidArgument);
}

// Found by the acpi fuzz target: COM port 0 indexed the port table at -1.
TEST_CASE("COM ports other than COM2..COM4, or one given twice, are rejected", "[acpi]") {
    auto with_ports = [](std::vector<unsigned> ports) {
        AcpiConfig config;
        config.serial_ports = std::move(ports);
        return config;
    };
    for (const auto& ports : std::vector<std::vector<unsigned>>{{0}, {1}, {5}, {2, 2}, {4, 3, 4}}) {
        INFO("serial_ports of " << ports.size() << ", first " << ports.front());
        CHECK_THROWS_AS(build_acpi_tables(with_ports(ports)), InvalidArgument);
    }
    CHECK_NOTHROW(build_acpi_tables(with_ports({2, 3, 4})));
}

TEST_CASE("MADT carries the topology's APIC ids, and the IOAPIC takes the id after the highest", "[acpi]") {
    AcpiConfig config{.num_cpus = 6, .com1 = true, .virtio_mmio = {}};
    config.apic_ids = {0, 1, 2, 4, 5, 6};             // 2 sockets of 3 cores
    const AcpiBlob blob = build_acpi_tables(config);  // the span below points into it
    const auto madt = table_bytes(blob, "APIC");
    std::map<uint8_t, std::vector<std::span<const uint8_t>>> by_type;
    for (const MadtEntry& entry : madt_entries(madt)) by_type[entry.type].push_back(entry.bytes);
    REQUIRE(by_type[0].size() == 6);
    for (unsigned i = 0; i < 6; ++i) {
        CHECK(u8(by_type[0][i], 2) == i);                   // ACPI processor UID: the vCPU index
        CHECK(u8(by_type[0][i], 3) == config.apic_ids[i]);  // APIC id: the topology's
    }
    REQUIRE(by_type[1].size() == 1);
    CHECK(u8(by_type[1][0], 2) == 7);

    auto refused = [](unsigned cpus, std::vector<uint32_t> ids) {
        AcpiConfig bad{.num_cpus = cpus, .com1 = true, .virtio_mmio = {}};
        bad.apic_ids = std::move(ids);
        return build_acpi_tables(bad);
    };
    CHECK_THROWS_AS(refused(3, {0, 1}), InvalidArgument);     // not one per vCPU
    CHECK_THROWS_AS(refused(3, {0, 1, 1}), InvalidArgument);  // shared
    CHECK_THROWS_AS(refused(2, {0, 254}), InvalidArgument);   // no id left for the IOAPIC
    CHECK_NOTHROW(refused(2, {0, 253}));
}
