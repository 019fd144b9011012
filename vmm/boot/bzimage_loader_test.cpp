#include <asm/bootparam.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "vmm/boot/boot_test_support.h"
#include "vmm/boot/bzimage_loader.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::boot;
using namespace brig::boot::testing;
using namespace brig::layout;
using Catch::Matchers::Contains;

TEST_CASE("bzImage: kernel, command line, initrd and zero page", "[boot][bzimage]") {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    FakeBzImage image;
    const auto initrd = pattern(10000, 42);
    const BootConfig config{dir.write("bzImage", image.bytes()), dir.write("initrd", initrd), "console=ttyS0 quiet",
                            kRsdp};

    const BootEntry entry = load_guest_kernel(mem, config);
    CHECK(entry.protocol == BootProtocol::Linux64);
    CHECK(entry.entry_point == kHighMemory + 0x200);
    CHECK(entry.boot_info_addr == kZeroPage);
    // The protected-mode part follows the boot sector and 4 setup sectors.
    CHECK(guest_bytes(mem, kHighMemory, image.payload.size()) == image.payload);

    const auto params = mem.read_obj<boot_params>(kZeroPage);
    CHECK(params.hdr.header == 0x53726448);
    CHECK(params.hdr.version == 0x020f);
    CHECK(params.hdr.type_of_loader == 0xff);

    CHECK(params.hdr.cmd_line_ptr == kCmdline);
    CHECK(params.ext_cmd_line_ptr == 0);
    const std::string expected_cmdline = "console=ttyS0 quiet";
    auto cmdline = guest_bytes(mem, kCmdline, expected_cmdline.size() + 1);
    CHECK(std::string(cmdline.begin(), cmdline.end() - 1) == expected_cmdline);
    CHECK(cmdline.back() == 0);

    CHECK(params.hdr.ramdisk_size == initrd.size());
    CHECK(params.hdr.ramdisk_image % 4096 == 0);
    // At the top of RAM, above the kernel's decompression footprint (pref_address + init_size).
    CHECK(params.hdr.ramdisk_image + initrd.size() <= 64 * MiB);
    CHECK(params.hdr.ramdisk_image + initrd.size() > 64 * MiB - 4096);
    CHECK(params.hdr.ramdisk_image >= image.header.pref_address + image.header.init_size);
    CHECK(guest_bytes(mem, params.hdr.ramdisk_image, initrd.size()) == initrd);

    CHECK(params.acpi_rsdp_addr == kRsdp);

    const auto e820 = build_e820_map(mem);
    REQUIRE(params.e820_entries == e820.size());
    for (size_t i = 0; i < e820.size(); ++i) {
        CHECK(params.e820_table[i].addr == e820[i].addr);
        CHECK(params.e820_table[i].size == e820[i].size);
        CHECK(params.e820_table[i].type == e820[i].type);
    }
}

TEST_CASE("bzImage: setup_sects 0 means 4 sectors of setup code", "[boot][bzimage]") {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    FakeBzImage image;
    image.setup_sects = 0;
    load_guest_kernel(mem, {dir.write("bzImage", image.bytes()), {}, "", kRsdp});
    CHECK(guest_bytes(mem, kHighMemory, image.payload.size()) == image.payload);
    CHECK(mem.read_obj<boot_params>(kZeroPage).hdr.ramdisk_image == 0);
}

TEST_CASE("bzImage: the initrd stays below initrd_addr_max", "[boot][bzimage]") {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    FakeBzImage image;
    image.header.initrd_addr_max = 32 * MiB - 1;  // inclusive: the last byte it may occupy
    const auto initrd = pattern(5000, 1);
    load_guest_kernel(mem, {dir.write("bzImage", image.bytes()), dir.write("initrd", initrd), "", kRsdp});
    const auto params = mem.read_obj<boot_params>(kZeroPage);
    CHECK(params.hdr.ramdisk_image + initrd.size() <= 32 * MiB);
    CHECK(params.hdr.ramdisk_image == 32 * MiB - 8192);
}

TEST_CASE("bzImage: bad images are rejected with one clear line", "[boot][bzimage]") {
    TempDir dir;
    auto mem = GuestMemory::create(64 * MiB);
    FakeBzImage image;
    auto load = [&](const BootConfig& config) { return [&mem, config] { load_guest_kernel(mem, config); }; };
    auto kernel_error = [&](const FakeBzImage& bad, const std::string& cmdline = "") {
        return invalid_argument_message(load({dir.write("bad-bzImage", bad.bytes()), {}, cmdline, kRsdp}));
    };

    SECTION("boot protocol too old") {
        image.header.version = 0x0206;
        const auto msg = kernel_error(image);
        CHECK_THAT(msg, Contains("--kernel: ") && Contains("bad-bzImage") && Contains("boot protocol 2.06") &&
                            Contains("too old"));
    }
    SECTION("not a 64-bit kernel") {
        image.header.xloadflags = 0;
        CHECK_THAT(kernel_error(image), Contains("XLF_KERNEL_64"));
    }
    SECTION("bad boot flag") {
        image.header.boot_flag = 0x1234;
        CHECK_THAT(kernel_error(image), Contains("boot_flag"));
    }
    SECTION("kernel_alignment that is not a power of two") {
        image.header.kernel_alignment = 0x300000;
        CHECK_THAT(kernel_error(image), Contains("kernel_alignment"));
    }
    SECTION("protected-mode part missing") {
        image.payload.clear();
        CHECK_THAT(kernel_error(image), Contains("is truncated"));
    }
    SECTION("setup header shorter than protocol 2.12 needs") {
        image.header.jump = 0xeb | (0x10 << 8);
        CHECK_THAT(kernel_error(image), Contains("setup header that ends at"));
    }
    SECTION("decompression footprint larger than guest memory") {
        image.header.init_size = 80 * MiB;
        CHECK_THAT(kernel_error(image), Contains("does not fit in guest memory (64 MiB)"));
    }
    SECTION("pref_address + init_size overflow") {
        image.header.pref_address = ~0ull - 0x1000;
        CHECK_THAT(kernel_error(image), Contains("overflow"));
    }
    SECTION("command line longer than cmdline_size") {
        image.header.cmdline_size = 10;
        CHECK_THAT(kernel_error(image, "console=ttyS0"),
                   Contains("command line is too long: 13 bytes") && Contains("at most 10"));
    }
    SECTION("initrd too big for the RAM above the kernel") {
        const auto initrd = dir.write_sparse("big-initrd", 60 * MiB);
        const auto msg = invalid_argument_message(load({dir.write("bzImage", image.bytes()), initrd, "", kRsdp}));
        CHECK_THAT(msg, Contains("--initrd: ") && Contains("big-initrd") && Contains("does not fit below 0x4000000"));
    }
    SECTION("initrd that would cross initrd_addr_max") {
        // The kernel claims 16 MiB + 30 MiB, beyond the 32 MiB the initrd must stay under.
        image.header.initrd_addr_max = 0x1ffffff;
        image.header.init_size = 30 * MiB;
        const auto initrd = dir.write("initrd", pattern(4096, 0));
        const auto msg = invalid_argument_message(load({dir.write("bzImage", image.bytes()), initrd, "", kRsdp}));
        CHECK_THAT(msg, Contains("does not fit below 0x2000000"));
    }
}
