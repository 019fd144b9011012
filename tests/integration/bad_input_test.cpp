// Bad command lines, bad images and a host without KVM: each gives exactly one line
// on stderr naming the problem and the documented exit status, never a crash.
#include <sched.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <signal.h>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

void require_one_line_error(const BrigResult& r, int code, const std::string& fragment) {
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.term_signal == 0);
    CHECK(r.exit_code == code);
    REQUIRE(r.err_lines().size() == 1);
    CHECK_THAT(r.err_lines()[0], StartsWith("brig: "));
    CHECK_THAT(r.err_lines()[0], Contains(fragment));
}

// A file that starts like a bzImage (boot sector signature and "HdrS") but stops early.
std::string truncated_bzimage() {
    std::string image(0x210, '\0');
    image[0x1fe] = 0x55;
    image[0x1ff] = static_cast<char>(0xaa);
    image.replace(0x202, 4, "HdrS");
    return image;
}

}  // namespace

TEST_CASE("command line errors exit 35 with one line naming the flag", "[bad-input]") {
    const std::string guest = test_guest();
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--frobnicate"}}), 35, "--frobnicate: unknown flag");
    require_one_line_error(run_brig({{"run", "--kernel", "/nonexistent/kernel"}}), 35, "--kernel: cannot open");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--initrd", "/nonexistent/initrd"}}), 35,
                           "--initrd: cannot open");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--mem", "lots"}}), 35,
                           "--mem: 'lots' is not a number");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--cpus", "1000"}}), 35,
                           "--cpus: 1000 is out of range");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--serial", "file=/nonexistent/dir/out"}}), 35,
                           "--serial: cannot open");
    require_one_line_error(run_brig({{"run"}}), 35, "--kernel: required");
    require_one_line_error(run_brig({{"launch"}}), 35, "unknown command 'launch'");
}

TEST_CASE("bad sandbox configuration exits 35 with one line", "[bad-input]") {
    const std::string guest = test_guest();
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--policy-dir", "/nonexistent/policies"}}), 35,
                           "--policy-dir: /nonexistent/policies is not a directory");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--seccomp", "learn"}}), 35,
                           "--seccomp: learn needs --policy-out");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--disk", "/tmp"}}), 35,
                           "--disk: /tmp is not a regular file");
    // A policy file with a syntax error: brig names file, line and column before starting anything.
    const TempDir dir;
    REQUIRE(std::system(("cp " + env_or_fail("BRIG_POLICY_DIR") + "/*.policy " + dir.path.string()).c_str()) == 0);
    std::ofstream(dir.path / "serial_device.policy", std::ios::app) << "read arg0 == 1\n";
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--policy-dir", dir.path.string()}}), 35,
                           "serial_device.policy:");
}

TEST_CASE("help and version go to stdout and exit 0", "[bad-input]") {
    auto r = run_brig({{"--help"}});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("brig run"));
    r = run_brig({{"run", "--help"}});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("--serial"));
    r = run_brig({{"--version"}});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, StartsWith("brig "));
}

TEST_CASE("bad kernel images exit 35 with one line", "[bad-input]") {
    TempFile empty("");
    require_one_line_error(run_brig({{"run", "--kernel", empty.path}}), 35, "--kernel");
    TempFile text("this is not a kernel, just some text that is long enough to look at\n");
    require_one_line_error(run_brig({{"run", "--kernel", text.path}}), 35,
                           "neither an ELF with a PVH entry note nor a bzImage");
    TempFile truncated(truncated_bzimage());
    require_one_line_error(run_brig({{"run", "--kernel", truncated.path}}), 35, "--kernel");
    TempFile elf_head(std::string("\x7f"
                                  "ELF\x02\x01\x01",
                                  7) +
                      std::string(20, '\0'));
    require_one_line_error(run_brig({{"run", "--kernel", elf_head.path}}), 35, "--kernel");
}

TEST_CASE("a kernel or initrd too big for guest memory exits 35", "[bad-input]") {
    // A 40 MiB initrd cannot fit in 16 MiB of guest memory.
    TempFile big(std::string(40u << 20, 'x'));
    require_one_line_error(run_brig({{"run", "--kernel", test_guest(), "--initrd", big.path, "--mem", "16"}}), 35,
                           "--initrd");
}

TEST_CASE("a host without /dev/kvm gets one line and exit 1", "[bad-input]") {
    BrigRun run{{"run", "--kernel", test_guest()}};
    run.in_child = [] {
        // Hide /dev/kvm in a private mount namespace: a tmpfs over /dev.
        if (unshare(CLONE_NEWNS) != 0) _exit(90);
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(91);
        if (mount("tmpfs", "/dev", "tmpfs", 0, nullptr) != 0) _exit(92);
    };
    const auto r = run_brig(run);
    INFO("exit " << r.exit_code << " (90-92: the test could not set up its namespace; it needs root)");
    require_one_line_error(r, 1, "/dev/kvm does not exist");
}

TEST_CASE("a bad --config file, a mistyped flag and a bad size exit 35 with one line", "[bad-input]") {
    const std::string guest = test_guest();
    TempFile unknown_key("kernl = \"" + guest + "\"\n");
    require_one_line_error(run_brig({{"run", "--config", unknown_key.path}}), 35,
                           "--config: " + unknown_key.path + ": unknown key 'kernl' (did you mean kernel?)");
    TempFile bad_value("kernel = \"" + guest + "\"\nmem = \"lots\"\n");
    require_one_line_error(run_brig({{"run", "--config", bad_value.path}}), 35, "--mem: 'lots' is not a number");
    require_one_line_error(run_brig({{"run", "--config", "/nonexistent/vm.toml"}}), 35,
                           "--config: cannot open /nonexistent/vm.toml");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--memm", "64"}}), 35,
                           "--memm: unknown flag (did you mean --mem?)");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--mem", "2T"}}), 35, "--mem: 2T is out of range");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--cpus"}}), 35, "--cpus: missing value");
}

TEST_CASE("bad --net input exits 35 with one line", "[bad-input]") {
    const std::string guest = test_guest();
    auto net = [&](const std::string& value) { return run_brig({{"run", "--kernel", guest, "--net", value}}); };
    require_one_line_error(net("tap-name=brignosuch0"), 35, "--net: TAP brignosuch0 does not exist");
    require_one_line_error(net("tap-name=lo"), 35, "--net: lo is not a single-queue TAP interface");
    require_one_line_error(net("tap-fd=0"), 35, "--net: 0 is out of range (3..2147483647)");
    require_one_line_error(net("tap-fd=77"), 35, "--net: tap-fd=77: fd 77 is not open");
    require_one_line_error(net("tap-name=t0,mac=52:54:00:12:34"), 35, "is not a MAC address");
    require_one_line_error(net("tap-name=t0,mac=33:33:00:00:00:01"), 35, "is a multicast MAC address");
    require_one_line_error(net("tap-name=t0,tap-fd=5"), 35, "tap-name and tap-fd together");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--net", "tap-name=a,mac=52:54:00:00:00:07", "--net",
                                      "tap-name=b,mac=52:54:00:00:00:07"}}),
                           35, "--net: MAC 52:54:00:00:00:07 is given twice");
}

TEST_CASE("bad --vsock input exits 35 with one line; a stale socket is replaced", "[bad-input][vsock]") {
    const std::string guest = test_guest();
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--vsock", "cid=2,socket=" + sock}}), 35,
                           "--vsock: 2 is out of range (3..4294967294)");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--vsock", "cid=3,socket=/nonexistent/dir/vm.sock"}}),
                           35, "--vsock: socket=/nonexistent/dir/vm.sock: cannot create the socket");
    require_one_line_error(run_brig({{"run", "--kernel", guest, "--ready-port", "7"}}), 35,
                           "--ready-port: needs --vsock");
    {
        std::ofstream(dir.path / "file") << "not a socket";
        require_one_line_error(
            run_brig({{"run", "--kernel", guest, "--vsock", "cid=3,socket=" + (dir.path / "file").string()}}), 35,
            "exists and is not a socket");
    }
    // A directory brig cannot write (root writes anywhere, so: a read-only mount).
    BrigRun read_only{{"run", "--kernel", guest, "--vsock", "cid=3,socket=" + sock}};
    read_only.in_child = [path = dir.path.string()] {
        if (unshare(CLONE_NEWNS) != 0) _exit(90);
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(91);
        if (mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, nullptr) != 0) _exit(92);
    };
    const auto ro = run_brig(read_only);
    INFO("exit " << ro.exit_code << " (90-92: the test could not set up its namespace; it needs root)");
    require_one_line_error(ro, 35, "cannot create the socket");

    // A live listener is refused; once it is gone its socket file is stale and replaced.
    BrigRun live{guest_args("spin", {"--vsock", "cid=3,socket=" + sock})};
    bool tried = false;
    live.on_output = [&](const std::string& out, pid_t pid) {
        if (tried || out.find("spin: 1\n") == std::string::npos) return;
        tried = true;
        const auto second = run_brig({{"run", "--kernel", guest, "--vsock", "cid=4,socket=" + sock}});
        require_one_line_error(second, 35, "in use (a program listens there)");
        kill(pid, SIGTERM);
    };
    const auto first = run_brig(live);
    INFO("stderr:\n" << first.err);
    CHECK(tried);
    CHECK(first.exit_code == 0);
    REQUIRE(std::filesystem::is_socket(sock));  // left behind, stale
    const auto again = run_brig({guest_args("poweroff", {"--vsock", "cid=3,socket=" + sock})});
    INFO("stderr:\n" << again.err);
    CHECK(again.exit_code == 0);
}
