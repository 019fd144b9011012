#include <catch2/catch.hpp>

#include "vmm/boot/boot_test_support.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::boot;
using namespace brig::boot::testing;
using namespace brig::layout;
using Catch::Matchers::Contains;

TEST_CASE("kernel files that cannot be a kernel are rejected with one clear line", "[boot]") {
    TempDir dir;
    auto mem = GuestMemory::create(32 * MiB);
    auto error_for = [&](const BootConfig& config) {
        return invalid_argument_message([&] { load_guest_kernel(mem, config); });
    };

    SECTION("missing kernel") {
        const auto path = dir.path("no-such-kernel");
        CHECK(error_for({path, {}, "", kRsdp}) ==
              "--kernel: cannot open " + path.string() + ": No such file or directory");
    }
    SECTION("missing initrd") {
        const auto path = dir.path("no-such-initrd");
        const auto msg = error_for({dir.write("vmlinux", FakePvhElf{}.bytes()), path, "", kRsdp});
        CHECK(msg == "--initrd: cannot open " + path.string() + ": No such file or directory");
    }
    SECTION("kernel is a directory") {
        CHECK_THAT(error_for({dir.path(""), {}, "", kRsdp}), Contains("is not a regular file"));
    }
    SECTION("empty kernel") {
        const auto path = dir.write("empty", {});
        CHECK(error_for({path, {}, "", kRsdp}) == "--kernel: " + path.string() + " is truncated: the file is empty");
    }
    SECTION("empty initrd") {
        const auto msg = error_for({dir.write("vmlinux", FakePvhElf{}.bytes()), dir.write("initrd", {}), "", kRsdp});
        CHECK_THAT(msg, Contains("--initrd: ") && Contains("is empty"));
    }
    SECTION("neither ELF nor bzImage") {
        const auto path = dir.write("kernel.txt", pattern(4096, 0));
        CHECK(error_for({path, {}, "", kRsdp}) ==
              "--kernel: " + path.string() + " is neither an ELF with a PVH entry note nor a bzImage");
    }
    SECTION("kernel file larger than guest memory") {
        const auto path = dir.write_sparse("huge", 33 * MiB);
        CHECK_THAT(error_for({path, {}, "", kRsdp}), Contains("does not fit in guest memory (32 MiB)"));
    }
    SECTION("command line longer than the space at kCmdline") {
        const std::string cmdline(kCmdlineMax, 'x');
        const auto msg = error_for({dir.write("vmlinux", FakePvhElf{}.bytes()), {}, cmdline, kRsdp});
        CHECK_THAT(msg, Contains("command line is too long: 65536 bytes") && Contains("at most 65535"));
    }
    SECTION("command line with a NUL byte") {
        const auto msg = error_for({dir.write("vmlinux", FakePvhElf{}.bytes()), {}, std::string("a\0b", 3), kRsdp});
        CHECK_THAT(msg, Contains("NUL"));
    }
}

TEST_CASE("error messages are a single line", "[boot]") {
    TempDir dir;
    auto mem = GuestMemory::create(32 * MiB);
    FakePvhElf elf;
    elf.with_pvh_note = false;
    const BootConfig config{dir.write("vmlinux", elf.bytes()), {}, "", kRsdp};
    const auto msg = invalid_argument_message([&] { load_guest_kernel(mem, config); });
    CHECK(msg.find('\n') == std::string::npos);
    CHECK_THAT(msg, Contains("without a PVH entry note"));
}
