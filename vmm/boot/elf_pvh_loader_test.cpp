#include <elf.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>

#include "vmm/boot/boot_test_support.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/pvh_start_info.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::boot;
using namespace brig::boot::testing;
using namespace brig::layout;
using Catch::Matchers::Contains;

namespace {

void check_pvh_boot(bool elf32) {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    // Stale bytes where the bss goes: the loader must clear them.
    auto stale = mem.slice(0x1000000, 0x10000);
    std::fill(stale.begin(), stale.end(), 0xaa);

    FakePvhElf elf;
    elf.elf32 = elf32;
    elf.note_value_size = elf32 ? 4 : 8;
    const auto initrd = pattern(12345, 9);
    const std::string cmdline = "console=hvc0 root=/dev/vda";
    const BootEntry entry =
        load_guest_kernel(mem, {dir.write("vmlinux", elf.bytes()), dir.write("initrd", initrd), cmdline, kRsdp});

    CHECK(entry.protocol == BootProtocol::Pvh);
    CHECK(entry.entry_point == elf.load_paddr + elf.entry_offset);
    CHECK(entry.boot_info_addr == kPvhStartInfo);
    CHECK(guest_bytes(mem, elf.load_paddr, elf.segment.size()) == elf.segment);
    const auto bss = guest_bytes(mem, elf.load_paddr + elf.segment.size(), elf.memsz - elf.segment.size());
    CHECK(std::all_of(bss.begin(), bss.end(), [](uint8_t b) { return b == 0; }));
    CHECK(mem.read_obj<uint8_t>(elf.load_paddr + elf.memsz) == 0xaa);  // nothing past memsz touched

    const auto info = mem.read_obj<HvmStartInfo>(kPvhStartInfo);
    CHECK(info.magic == 0x336ec578);
    CHECK(info.version == 1);
    CHECK(info.rsdp_paddr == kRsdp);
    CHECK(info.cmdline_paddr == kCmdline);
    const auto cmdline_bytes = guest_bytes(mem, info.cmdline_paddr, cmdline.size() + 1);
    CHECK(std::string(cmdline_bytes.begin(), cmdline_bytes.end() - 1) == cmdline);
    CHECK(cmdline_bytes.back() == 0);

    const auto e820 = build_e820_map(mem);
    REQUIRE(info.memmap_entries == e820.size());
    // Everything the kernel reads lives in the one start-info page.
    CHECK(info.memmap_paddr >= kPvhStartInfo);
    CHECK(info.memmap_paddr + e820.size() * sizeof(HvmMemmapEntry) <= kPvhStartInfo + 4096);
    for (size_t i = 0; i < e820.size(); ++i) {
        const auto m = mem.read_obj<HvmMemmapEntry>(info.memmap_paddr + i * sizeof(HvmMemmapEntry));
        CHECK(m.addr == e820[i].addr);
        CHECK(m.size == e820[i].size);
        CHECK(m.type == e820[i].type);
        CHECK(m.reserved == 0);
    }

    REQUIRE(info.nr_modules == 1);
    const auto module = mem.read_obj<HvmModlistEntry>(info.modlist_paddr);
    CHECK(module.size == initrd.size());
    CHECK(module.paddr % 4096 == 0);
    CHECK(module.paddr >= elf.load_paddr + elf.memsz);
    CHECK(module.paddr + module.size <= 64 * MiB);
    CHECK(guest_bytes(mem, module.paddr, module.size) == initrd);
}
}  // namespace

TEST_CASE("PVH: ELF64 kernel with start info, memmap and initrd module", "[boot][pvh]") { check_pvh_boot(false); }

TEST_CASE("PVH: ELF32 kernel with a 32-bit entry note", "[boot][pvh]") { check_pvh_boot(true); }

TEST_CASE("PVH: no initrd means no modules", "[boot][pvh]") {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    load_guest_kernel(mem, {dir.write("vmlinux", FakePvhElf{}.bytes()), {}, "", kRsdp});
    const auto info = mem.read_obj<HvmStartInfo>(kPvhStartInfo);
    CHECK(info.nr_modules == 0);
    CHECK(info.modlist_paddr == 0);
}

TEST_CASE("PVH: bad ELF images are rejected with one clear line", "[boot][pvh]") {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    FakePvhElf elf;
    auto error_for = [&](const std::vector<uint8_t>& bytes) {
        const BootConfig config{dir.write("bad-vmlinux", bytes), {}, "", kRsdp};
        return invalid_argument_message([&] { load_guest_kernel(mem, config); });
    };

    SECTION("ELF without the PVH note") {
        elf.with_pvh_note = false;
        const auto msg = error_for(elf.bytes());
        CHECK_THAT(msg, Contains("--kernel: ") && Contains("bad-vmlinux") && Contains("without a PVH entry note"));
        // Nothing was loaded for a rejected image.
        CHECK(mem.read_obj<uint64_t>(elf.load_paddr) == 0);
    }
    SECTION("truncated program header table") {
        auto bytes = elf.bytes();
        Elf64_Ehdr ehdr;
        std::memcpy(&ehdr, bytes.data(), sizeof ehdr);
        ehdr.e_phoff = bytes.size() - sizeof(Elf64_Phdr);  // the second header runs off the end
        std::memcpy(bytes.data(), &ehdr, sizeof ehdr);
        CHECK_THAT(error_for(bytes), Contains("is truncated: the program header table"));
    }
    SECTION("file cut inside the ELF header") {
        auto bytes = elf.bytes();
        bytes.resize(32);
        CHECK_THAT(error_for(bytes), Contains("is truncated"));
    }
    SECTION("segment data beyond the end of the file") {
        auto bytes = elf.bytes();
        bytes.resize(bytes.size() - 1);
        CHECK_THAT(error_for(bytes), Contains("is truncated: segment 0"));
    }
    SECTION("segment outside guest memory") {
        elf.load_paddr = 64 * MiB - 0x2000;  // + 0x5000 memsz crosses the end of RAM
        CHECK_THAT(error_for(elf.bytes()), Contains("does not fit in guest memory (64 MiB)") && Contains("segment 0"));
    }
    SECTION("segment whose end overflows") {
        elf.load_paddr = ~0ull - 0x1000;
        elf.entry_offset = 0;
        CHECK_THAT(error_for(elf.bytes()), Contains("does not fit in guest memory"));
    }
    SECTION("segment over the boot structures below 1 MiB") {
        elf.load_paddr = 0x7000;
        CHECK_THAT(error_for(elf.bytes()), Contains("inside the boot area below 0x100000"));
    }
    SECTION("p_filesz larger than p_memsz") {
        elf.memsz = 0x1000;
        CHECK_THAT(error_for(elf.bytes()), Contains("larger than p_memsz"));
    }
    SECTION("entry point outside the loaded segments") {
        elf.entry_offset = 0x100000;
        CHECK_THAT(error_for(elf.bytes()), Contains("PVH entry point 0x1100000 outside"));
    }
    SECTION("PVH note with an odd value size") {
        elf.note_value_size = 2;
        CHECK_THAT(error_for(elf.bytes()), Contains("2-byte value"));
    }
    SECTION("wrong machine") {
        auto bytes = elf.bytes();
        const uint16_t arm64 = EM_AARCH64;
        std::memcpy(bytes.data() + offsetof(Elf64_Ehdr, e_machine), &arm64, sizeof arm64);
        CHECK_THAT(error_for(bytes), Contains("not x86"));
    }
    SECTION("unknown ELF class") {
        auto bytes = elf.bytes();
        bytes[EI_CLASS] = 7;
        CHECK_THAT(error_for(bytes), Contains("unknown ELF class 7"));
    }
}
