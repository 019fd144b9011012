// The Debian kernel (scripts/make-guest-kit.sh) booted by brig. On a kvm_pvm host the
// guest kernel runs in an instruction emulator and never reaches user space, so the
// test reads the kernel's own early-boot report of brig's tables and then stops brig
// with SIGTERM. On a host with VMX/SVM it goes on to the initramfs's GUEST-READY and
// the guest's own power-off.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

bool host_emulates_guest_kernel() {
    struct stat st {};
    return stat("/sys/module/kvm_pvm", &st) == 0;
}

std::string kit_file(const char* name) {
    const std::string path = env_or_fail("BRIG_KIT_DIR") + "/" + name;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) FAIL(path << " is missing: build the kit with scripts/make-guest-kit.sh");
    return path;
}

bool contains_all(const std::string& out, const std::vector<std::string>& needles) {
    for (const auto& n : needles)
        if (out.find(n) == std::string::npos) return false;
    return true;
}

}  // namespace

TEST_CASE("Linux early boot shows brig's command line, e820, ACPI tables, CPUs and initrd", "[linux]") {
    const bool emulated = host_emulates_guest_kernel();
    WARN((emulated ? "kvm_pvm host: guest kernel mode is emulated; checking early boot, then SIGTERM"
                   : "hardware virtualisation: booting to GUEST-READY"));
    const std::string cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=-1 brig.marker=42";
    const std::vector<std::string> early = {
        "Command line: " + cmdline,
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
        "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable",
        "ACPI: RSDP 0x00000000000E0000",
        "ACPI: FACP 0x",
        "ACPI: DSDT 0x",
        "ACPI: APIC 0x",
        "smpboot: Allowing 2 CPUs",
        "RAMDISK: [mem 0x",
    };
    BrigRun run{{"run", "--kernel", kit_file("vmlinux"), "--initrd", kit_file("initramfs.cpio.gz"), "--cmdline",
                 cmdline, "--mem", "256", "--cpus", "2"}};
    run.timeout = std::chrono::seconds(emulated ? 150 : 60);
    std::optional<std::chrono::steady_clock::time_point> sent;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (emulated && !sent && contains_all(out, early)) {
            kill(pid, SIGTERM);
            sent = std::chrono::steady_clock::now();
        }
    };
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_brig(run);
    INFO("console:\n" << r.out << "\nstderr:\n" << r.err);
    for (const auto& line : early) CHECK_THAT(r.out, Contains(line));
    REQUIRE_FALSE(r.timed_out);
    if (emulated) {
        REQUIRE(sent.has_value());
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.err, Contains("stopped by SIGTERM"));
        const auto smpboot_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*sent - start).count();
        WARN("early-boot report complete (smpboot:) after " << smpboot_ms << " ms");
        const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(start + r.elapsed - *sent).count();
        CHECK(stop_ms < 3000);
    } else {
        CHECK_THAT(r.out, Contains("GUEST-READY"));
        CHECK(r.exit_code == 0);
    }
}

TEST_CASE("the Debian bzImage enters through the 64-bit boot protocol and relocates its decompressor", "[linux]") {
    const bool emulated = host_emulates_guest_kernel();
    BrigRun run{{"run", "--kernel", kit_file("vmlinuz"), "--initrd", kit_file("initramfs.cpio.gz"), "--cmdline",
                 "console=ttyS0 reboot=k panic=-1", "--mem", "256", "--log-level", "debug"}};
    run.timeout = std::chrono::seconds(60);
    if (emulated) {
        // Debian's decompressor prints nothing (no CONFIG_X86_VERBOSE_BOOTUP) and takes
        // minutes in the emulator, so look at where it runs instead: within seconds it
        // must have copied itself above the 1 MiB load address and jumped there, with
        // no triple fault or emulation failure on the way.
        run.sigterm_after = std::chrono::seconds(6);
    }
    const auto r = run_brig(run);
    INFO("console:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    if (emulated) {
        CHECK_THAT(r.err, Contains("stopped by SIGTERM"));
        const std::string marker = "[vcpu0] stopped at RIP 0x";
        const auto at = r.err.find(marker);
        REQUIRE(at != std::string::npos);
        const uint64_t rip = std::stoull(r.err.substr(at + marker.size()), nullptr, 16);
        CHECK(rip > 0x1000000);
    } else {
        CHECK_THAT(r.out, Contains("GUEST-READY"));
    }
}

TEST_CASE("--boot-timeout stops a guest that stays silent: HANGUP, exit 36", "[linux]") {
    // Without console= or earlyprintk the kernel writes nothing to COM1 for seconds.
    const TempFile failure;
    const auto r = run_brig({{"run", "--kernel", kit_file("vmlinux"), "--cmdline", "quiet panic=-1", "--mem", "256",
                              "--boot-timeout", "2", "--failure-file", failure.path}});
    std::istringstream in(failure.content());
    std::string record;
    std::getline(in, record);
    INFO("stderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 36);
    CHECK_THAT(r.err, Contains("no console output within --boot-timeout 2 s"));
    REQUIRE_FALSE(r.err_lines().empty());
    CHECK(r.err_lines().back() == "brig: HANGUP: no console output within --boot-timeout 2 s");
    CHECK(record == "HANGUP after=2s");
    CHECK(r.elapsed < std::chrono::seconds(6));
}
