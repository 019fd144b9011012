// However brig ends, stderr's last line says why, as `brig: RECORD: detail`, at every
// --log-level but off, and --failure-file holds exactly one record (README: "Exit
// records"): power-off, reset, a signal, invalid arguments (even a parse error), an
// internal error, a device that dies during activation or later, and brig's own death
// by a seccomp violation, all with every thread filter of brig installed.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/unique_fd.h"
#include "tests/integration/brig_process.h"
#include "tests/integration/fake_syslog.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string last_line(const BrigResult& r) {
    const auto lines = r.err_lines();
    return lines.empty() ? "" : lines.back();
}

// A copy of the shipped policies with the lines of `file` that start with one of `drop` removed.
void copy_policies_without(const TempDir& dir, const std::string& file, const std::vector<std::string>& drop) {
    REQUIRE(std::system(("cp " + env_or_fail("BRIG_POLICY_DIR") + "/*.policy " + dir.path.string()).c_str()) == 0);
    std::ifstream in(dir.path / file);
    std::stringstream kept;
    for (std::string line; std::getline(in, line);) {
        bool dropped = false;
        for (const auto& prefix : drop) dropped = dropped || line.starts_with(prefix);
        if (!dropped) kept << line << "\n";
    }
    in.close();
    std::ofstream(dir.path / file, std::ios::trunc) << kept.str();
}

}  // namespace

TEST_CASE("power-off and reset end with one line at every log level but off, and one record", "[exit-report]") {
    const TempFile failure;
    for (const std::string level : {"trace", "info", "warn", "error"}) {
        const auto r = run_brig({guest_args("poweroff", {"--failure-file", failure.path, "--log-level", level})});
        INFO("--log-level " << level << "\nstderr:\n" << r.err);
        CHECK(r.exit_code == 0);
        CHECK(last_line(r) == "brig: SHUTDOWN: guest powered off via acpi-sleep-control");
        CHECK(failure.content() == "SHUTDOWN\n");
    }
    auto r = run_brig({guest_args("poweroff", {"--failure-file", failure.path, "--log-level", "off"})});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(failure.content() == "SHUTDOWN\n");

    r = run_brig({guest_args("reset-kbd", {"--failure-file", failure.path, "--log-level", "warn"})});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 32);
    CHECK_THAT(last_line(r), StartsWith("brig: REBOOT: guest reset via "));
    CHECK(failure.content() == "REBOOT\n");
}

TEST_CASE("a signal ends with a KILLED line and record", "[exit-report]") {
    const TempFile failure;
    BrigRun run{guest_args("spin", {"--failure-file", failure.path})};
    run.sigterm_after = std::chrono::milliseconds(1500);
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 0);
    CHECK(last_line(r) == "brig: KILLED: stopped by SIGTERM");
    CHECK(failure.content() == "KILLED signal=SIGTERM\n");
}

TEST_CASE("invalid arguments are recorded, even when parsing fails before --failure-file", "[exit-report]") {
    const std::string guest = test_guest();
    const TempFile failure;
    auto r = run_brig({{"run", "--kernel", guest, "--mem", "lots", "--failure-file", failure.path}});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 35);
    CHECK(last_line(r) == "brig: INVALID_ARGUMENT: --mem: 'lots' is not a number");
    CHECK(failure.content() == "INVALID_ARGUMENT --mem\n");

    r = run_brig({{"run", "--failure-file=" + failure.path, "--kernel", guest, "--frobnicate"}});
    CHECK(r.exit_code == 35);
    CHECK(failure.content() == "INVALID_ARGUMENT --frobnicate\n");

    // The value of another flag that happens to read "--failure-file" is not one.
    r = run_brig(
        {{"run", "--kernel", guest, "--cmdline", "--failure-file", "--mem", "lots", "--failure-file", failure.path}});
    CHECK(r.exit_code == 35);
    CHECK(failure.content() == "INVALID_ARGUMENT --mem\n");

    // Found while building the VM, not by the parser.
    r = run_brig({{"run", "--kernel", guest, "--serial", "file=/nonexistent/dir/out", "--failure-file", failure.path}});
    CHECK(r.exit_code == 35);
    CHECK(failure.content() == "INVALID_ARGUMENT --serial\n");
}

TEST_CASE("an unopenable --failure-file is itself an invalid argument", "[exit-report]") {
    const auto r = run_brig({{"run", "--kernel", test_guest(), "--failure-file", "/nonexistent/dir/record"}});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 35);
    REQUIRE(r.err_lines().size() == 1);
    CHECK_THAT(last_line(r), StartsWith("brig: INVALID_ARGUMENT: --failure-file: cannot open /nonexistent/dir/record"));
}

TEST_CASE("an internal error is recorded: a host without /dev/kvm", "[exit-report]") {
    const TempFile failure;
    BrigRun run{{"run", "--kernel", test_guest(), "--failure-file", failure.path}};
    run.in_child = [] {
        if (unshare(CLONE_NEWNS) != 0) _exit(90);
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(91);
        if (mount("tmpfs", "/dev", "tmpfs", 0, nullptr) != 0) _exit(92);
    };
    const auto r = run_brig(run);
    INFO("exit " << r.exit_code << " (90-92: the test could not set up its namespace; it needs root)\nstderr:\n"
                 << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(last_line(r), StartsWith("brig: INTERNAL_ERROR: "));
    CHECK_THAT(last_line(r), Contains("/dev/kvm does not exist"));
    CHECK(failure.content() == "INTERNAL_ERROR\n");
}

TEST_CASE("a device that dies during activation is recorded as DEVICE_CRASHED", "[exit-report]") {
    // Without clone the serial device is stopped for a seccomp violation when it starts its threads.
    const TempDir dir;
    copy_policies_without(dir, "common_device.policy", {"clone:"});
    const TempFile failure;
    const auto r =
        run_brig({guest_args("poweroff", {"--policy-dir", dir.path.string(), "--failure-file", failure.path})});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 33);
    CHECK_THAT(last_line(r), StartsWith("brig: DEVICE_CRASHED: serial (pid "));
    CHECK_THAT(last_line(r), Contains("during activation"));
    CHECK(std::regex_match(failure.content(),
                           std::regex("DEVICE_CRASHED serial pid=[0-9]+ reason=seccomp syscall=clone\n")));
}

TEST_CASE("a device that dies while the guest runs is recorded as DEVICE_CRASHED", "[exit-report]") {
    const DeviceBinary device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    const TempFile failure;
    const auto r = run_brig({guest_args("hook-syscall", {"--failure-file", failure.path, "--log-level", "error"})});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 33);
    CHECK_THAT(last_line(r), StartsWith("brig: DEVICE_CRASHED: serial (pid "));
    CHECK_THAT(failure.content(), StartsWith("DEVICE_CRASHED serial pid="));
}

TEST_CASE("brig's own death by a seccomp violation is recorded from its SIGSYS handler", "[exit-report]") {
    // A main-thread policy without poll: the supervisor's first poll is a violation.
    const TempDir dir;
    copy_policies_without(dir, "brig_main.policy", {"poll:", "ppoll:"});
    const TempFile failure;
    const auto r = run_brig({guest_args("spin", {"--policy-dir", dir.path.string(), "--failure-file", failure.path})});
    INFO("stderr:\n" << r.err);
    CHECK(r.term_signal == SIGSYS);
    CHECK(std::regex_match(last_line(r),
                           std::regex("brig: INTERNAL_ERROR: seccomp: blocked syscall p?poll in main thread [0-9]+")));
    CHECK(std::regex_match(failure.content(), std::regex("INTERNAL_ERROR signal=SIGSYS syscall=p?poll thread=main\n")));
}

TEST_CASE("--log-file with --log-format json: one object a line, a device's words marked with its pid",
          "[exit-report]") {
    TempDir dir;
    const std::string log = (dir.path / "brig.log").string();
    const auto r = run_guest("mode=poweroff", {"--log-file", log, "--log-format", "json", "--log-level", "debug"});
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, Contains("brig: SHUTDOWN"));  // the final line stays on stderr
    CHECK(r.err.find("\"level\"") == std::string::npos);
    std::ifstream in(log);
    const std::regex object(
        R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"[a-z]+","component":"[^"]+","pid":\d+,"message":".*"(,"device_text":true)?\})");
    const std::regex device_line(R"re(.*"component":"virtio-rng","pid":(\d+),.*"device_text":true\})re");
    std::string line;
    size_t lines = 0, device_lines = 0;
    std::set<std::string> device_pids;
    while (std::getline(in, line)) {
        ++lines;
        INFO(line);
        CHECK(std::regex_match(line, object));
        std::smatch m;
        if (std::regex_match(line, m, device_line)) {
            ++device_lines;
            device_pids.insert(m[1]);
        }
    }
    CHECK(lines > 5);
    CHECK(device_lines > 0);
    CHECK(device_pids.size() == 1);                           // the device's own pid
    CHECK(device_pids.count(std::to_string(getpid())) == 0);  // not the test's
}

TEST_CASE("--log-file through a symbolic link is refused with one line and exit 35", "[exit-report]") {
    TempDir dir;
    const auto link = dir.path / "brig.log";
    std::filesystem::create_symlink(dir.path / "elsewhere", link);
    const auto r = run_guest("mode=poweroff", {"--log-file", link.string()});
    CHECK(r.exit_code == 35);
    CHECK(r.err_lines().size() == 1);
    CHECK_THAT(r.err, Contains("--log-file"));
    CHECK_THAT(r.err, Contains("is a symbolic link"));
    CHECK_FALSE(std::filesystem::exists(dir.path / "elsewhere"));
}

namespace {

BrigRun syslog_run(const FakeSyslog& syslog, const std::string& mode) {
    BrigRun run{guest_args(mode, {"--syslog-tag", "vm-7", "--log-level", "debug"})};
    run.timeout = std::chrono::seconds(30);
    run.in_child = use_syslog(syslog);
    return run;
}

}  // namespace

TEST_CASE("--syslog-tag: every line also goes to syslog as TAG[pid], device words marked", "[exit-report]") {
    TempDir dir;
    FakeSyslog syslog(dir.path / "log");
    const auto r = run_brig(syslog_run(syslog, "poweroff"));
    require_exit(r, 0);
    const auto lines = syslog.take();
    const std::regex line(R"(<(1[1-5])>vm-7\[(\d+)\]: \[[a-z0-9-]+\] .+)");
    std::set<std::string> pids;
    size_t device_words = 0;
    for (const auto& l : lines) {
        INFO(l);
        std::smatch m;
        CHECK(std::regex_match(l, m, line));
        pids.insert(m[2]);
        if (l.find("] device: ") != std::string::npos) ++device_words;
    }
    CHECK(lines.size() > 5);
    CHECK(device_words > 0);
    CHECK(pids.size() == 1);                           // brig's pid on every line, a device's words included
    CHECK_THAT(r.err, Contains("[boot] PVH kernel"));  // stderr keeps its log too
}

TEST_CASE("--syslog-tag: a syslog that goes away costs lines, never the VM; none at start is exit 35",
          "[exit-report]") {
    TempDir dir;
    {
        FakeSyslog syslog(dir.path / "log");
        BrigRun run = syslog_run(syslog, "spin lines=3");
        run.on_output = [&](const std::string& out, pid_t) {
            if (out.find("spin: 0") != std::string::npos) syslog.fd.reset();  // the daemon dies
        };
        const auto r = run_brig(run);
        require_exit(r, 0);
        CHECK_THAT(r.out, Contains("spin: done"));
    }
    FakeSyslog gone(dir.path / "gone");
    gone.fd.reset();  // its socket file stays, and nobody reads it
    const auto r = run_brig(syslog_run(gone, "poweroff"));
    CHECK(r.exit_code == 35);
    CHECK(r.err_lines().size() == 1);
    CHECK_THAT(r.err, Contains("--syslog-tag: cannot reach syslog at"));
}
