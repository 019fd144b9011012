// The Debian kernel (scripts/make-guest-kit.sh) booted by brig. On a kvm_pvm host the
// guest kernel runs in an instruction emulator and never reaches user space, so the
// test reads the kernel's own early-boot report of brig's tables and then stops brig
// with SIGTERM. On a host with VMX/SVM it goes on to the initramfs's GUEST-READY and
// the guest's own power-off.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
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

namespace {

// In brig's child before exec: a network namespace of its own with a TAP, brignet0,
// at 10.78.0.1/24 and up, so the guest has a host side to ping; it goes away with
// the namespace when brig exits.
void in_namespace_with_addressed_tap() {
    auto fail = [](const char* what) {
        std::perror(what);
        _exit(127);
    };
    if (unshare(CLONE_NEWNET) != 0) fail("test: unshare(CLONE_NEWNET)");
    ifreq request{};
    std::strncpy(request.ifr_name, "brignet0", IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    const int tap = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tap < 0 || ioctl(tap, TUNSETIFF, &request) != 0 || ioctl(tap, TUNSETPERSIST, 1) != 0) fail("test: TAP");
    close(tap);
    const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto set_address = [&](unsigned long request_code, const char* text) {
        ifreq req{};
        std::strncpy(req.ifr_name, "brignet0", IFNAMSIZ - 1);
        auto* in = reinterpret_cast<sockaddr_in*>(&req.ifr_addr);
        in->sin_family = AF_INET;
        inet_pton(AF_INET, text, &in->sin_addr);
        if (ioctl(sock, request_code, &req) != 0) fail("test: TAP address");
    };
    set_address(SIOCSIFADDR, "10.78.0.1");
    set_address(SIOCSIFNETMASK, "255.255.255.0");
    ifreq up{};
    std::strncpy(up.ifr_name, "brignet0", IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &up) != 0) fail("test: TAP flags");
    up.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &up) != 0) fail("test: TAP up");
    close(sock);
}

}  // namespace

TEST_CASE("Linux with --net: eth0 comes up and pings the host side (hardware virtualisation)", "[linux]") {
    REQUIRE(access("/dev/net/tun", R_OK | W_OK) == 0);
    const bool emulated = host_emulates_guest_kernel();
    WARN((emulated ? "kvm_pvm host: Linux cannot reach user space here; checking early boot with virtio-net attached"
                   : "hardware virtualisation: eth0 up and ping from the guest"));
    const std::string cmdline =
        "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=-1 -- sh -c 'ip link set eth0 up && ip addr add "
        "10.78.0.2/24 dev eth0 && "
        "ping -c 3 -W 2 10.78.0.1'";
    BrigRun run{{"run", "--kernel", kit_file("vmlinux"), "--initrd", kit_file("initramfs.cpio.gz"), "--cmdline",
                 cmdline, "--mem", "256", "--net", "tap-name=brignet0", "--log-level", "debug"}};
    run.in_child = in_namespace_with_addressed_tap;
    run.timeout = std::chrono::seconds(emulated ? 150 : 90);
    bool sent = false;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (emulated && !sent && out.find("smpboot: Allowing 1 CPUs") != std::string::npos) {
            kill(pid, SIGTERM);
            sent = true;
        }
    };
    const auto r = run_brig(run);
    INFO("console:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK_THAT(r.err, Contains("[virtio-net0] TAP brignet0, MAC "));
    CHECK(r.exit_code == 0);
    if (emulated) {
        CHECK(sent);
        CHECK_THAT(r.out, Contains("ACPI: DSDT 0x"));
    } else {
        CHECK_THAT(r.out, Contains("GUEST-READY"));
        CHECK_THAT(r.out, Contains("3 packets transmitted, 3 packets received"));
        CHECK_THAT(r.out, Contains("GUEST-CMD-EXIT=0"));
    }
}
