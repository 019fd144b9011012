// The freestanding test guest (tests/guest) booted by the real brig binary: what the
// guest sees of brig's boot tables, and every way the guest can end the run.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {
void require_clean_exit(const BrigResult& r, int code) {
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.term_signal == 0);
    REQUIRE(r.exit_code == code);
}
}  // namespace

TEST_CASE("test guest sees brig's memory map, ACPI tables and one CPU through both boot protocols", "[guest]") {
    const std::string protocol = GENERATE(as<std::string>{}, "pvh", "linux64");
    auto args = guest_args("info");
    if (protocol == "linux64") args[2] = test_guest_bzimage();
    const auto r = run_brig({args});
    require_clean_exit(r, 0);
    CHECK_THAT(r.out, Contains("brig-test-guest: start mode=info"));
    CHECK_THAT(r.out, Contains("cmdline: mode=info"));
    CHECK_THAT(r.out, Contains("boot: protocol=" + protocol));
    // 64 MiB: conventional memory, the EBDA/BIOS hole with the ACPI tables, then RAM from 1 MiB.
    CHECK_THAT(r.out, Contains("memmap: 3 entries"));
    CHECK_THAT(r.out, Contains("memmap: addr=0x0 size=0x9fc00 type=1"));
    CHECK_THAT(r.out, Contains("memmap: addr=0x9fc00 size=0x60400 type=2"));
    CHECK_THAT(r.out, Contains("memmap: addr=0x100000 size=0x3f00000 type=1"));
    CHECK_THAT(r.out, Contains("initrd: none"));
    CHECK_THAT(r.out, Contains("acpi: FACP"));
    CHECK_THAT(r.out, Contains("acpi: APIC"));
    CHECK_THAT(r.out, !Contains("bad-checksum"));
    CHECK_THAT(r.out, Contains("cpus: 1"));
    CHECK_THAT(r.out, Contains("poweroff: via sleep-control"));
    CHECK_THAT(r.err, Contains("guest powered off via acpi-sleep-control"));
}

TEST_CASE("the initrd reaches the guest page-aligned at the top of low memory", "[guest]") {
    const std::string protocol = GENERATE(as<std::string>{}, "pvh", "linux64");
    const TempFile initrd(std::string(12345, 'i'));
    auto args = guest_args("info", {"--initrd", initrd.path});
    if (protocol == "linux64") args[2] = test_guest_bzimage();
    const auto r = run_brig({args});
    require_clean_exit(r, 0);
    // 12345 bytes round up to 4 pages below the 64 MiB end of RAM.
    CHECK_THAT(r.out, Contains("initrd: addr=0x3ffc000 size=0x3039"));
}

TEST_CASE("--cpus 4 puts four local APICs in the MADT", "[guest]") {
    const auto r = run_brig({guest_args("info", {"--cpus", "4"})});
    require_clean_exit(r, 0);
    CHECK_THAT(r.out, Contains("cpus: 4"));
}

TEST_CASE("memory above 3 GiB continues above the 4 GiB MMIO hole", "[guest]") {
    auto args = guest_args("info");
    args.back() = "4096";  // --mem
    const auto r = run_brig({args});
    require_clean_exit(r, 0);
    CHECK_THAT(r.out, Contains("memmap: addr=0x100000 size=0xbff00000 type=1"));
    CHECK_THAT(r.out, Contains("memmap: addr=0x100000000 size=0x40000000 type=1"));
}

TEST_CASE("guest power off through the ACPI sleep control register exits 0", "[guest]") {
    const auto r = run_brig({guest_args("poweroff")});
    require_clean_exit(r, 0);
    CHECK(r.err_lines().size() <= 1);
}

TEST_CASE("guest resets exit 32", "[guest]") {
    const std::string mode = GENERATE(as<std::string>{}, "reset-acpi", "reset-kbd", "reset-triple");
    const bool bzimage = GENERATE(false, true);
    // Two vCPUs: the one that resets must take its idle peer down with it.
    auto args = guest_args(mode, {"--cpus", "2"});
    if (bzimage) args[2] = test_guest_bzimage();
    const auto r = run_brig({args});
    require_clean_exit(r, 32);
    const std::string via = mode == "reset-acpi"  ? "acpi-reset-register"
                            : mode == "reset-kbd" ? "i8042-reset"
                                                  : "triple fault";
    CHECK_THAT(r.err, Contains(via));
}

TEST_CASE("console input reaches the guest and its echo comes back", "[guest]") {
    BrigRun run{guest_args("echo")};
    run.stdin_data = "brig-echo-test\nq";
    const auto r = run_brig(run);
    require_clean_exit(r, 0);
    CHECK_THAT(r.out, Contains("echo: ready"));
    CHECK_THAT(r.out, Contains("brig-echo-test"));
    CHECK_THAT(r.out, Contains("echo: done"));
}

TEST_CASE("SIGTERM stops a running guest promptly and cleanly", "[guest]") {
    const int sig = GENERATE(SIGTERM, SIGINT);
    BrigRun run{guest_args("spin", {"--cpus", "2"})};
    std::optional<std::chrono::steady_clock::time_point> sent;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (!sent && out.find("spin: 2") != std::string::npos) {
            kill(pid, sig);
            sent = std::chrono::steady_clock::now();
        }
    };
    const auto r = run_brig(run);
    REQUIRE(sent.has_value());
    require_clean_exit(r, 0);
    const auto stop_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *sent).count();
    CHECK(stop_ms < 2000);
    CHECK_THAT(r.err, Contains(sig == SIGTERM ? "stopped by SIGTERM" : "stopped by SIGINT"));
}

TEST_CASE("--serial file=PATH writes the console to the file, not stdout", "[guest]") {
    const TempFile console;
    const auto r = run_brig({guest_args("poweroff", {"--serial", "file=" + console.path})});
    require_clean_exit(r, 0);
    CHECK(r.out.empty());
    CHECK_THAT(console.content(), Contains("brig-test-guest: start mode=poweroff"));
}

TEST_CASE("--serial sink discards the console", "[guest]") {
    const auto r = run_brig({guest_args("info", {"--serial", "sink"})});
    require_clean_exit(r, 0);
    CHECK(r.out.empty());
}

TEST_CASE("a VM from a --config file boots the test guest, and a flag overrides its key", "[guest]") {
    const TempFile serial;
    const TempFile config(
        "# the test guest, as a file\n"
        "kernel = \"" +
        test_guest() +
        "\"\n"
        "cmdline = \"mode=info\"\n"
        "mem = \"128M\"\n"
        "cpus = 2\n"
        "serial = \"type=file,path=" +
        serial.path +
        "\"\n"
        "log-level = \"WARNING\"\n"
        "no-rng = true\n");
    auto r = run_brig({{"run", "--config", config.path}});
    require_clean_exit(r, 0);
    const std::string out = serial.content();
    CHECK_THAT(out, Contains("cmdline: mode=info"));
    CHECK_THAT(out, Contains("cpus: 2"));
    // 128 MiB: RAM from 1 MiB to the end.
    CHECK_THAT(out, Contains("memmap: addr=0x100000 size=0x7f00000 type=1"));
    CHECK_THAT(r.err, Contains("guest powered off via acpi-sleep-control"));

    r = run_brig({{"run", "--config", config.path, "--cpus", "1", "--mem=64M", "--serial", "stdout"}});
    require_clean_exit(r, 0);
    CHECK_THAT(r.out, Contains("cpus: 1"));
    CHECK_THAT(r.out, Contains("memmap: addr=0x100000 size=0x3f00000 type=1"));
}
