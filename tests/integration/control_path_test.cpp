// A device that a guest has taken over attacks brig through its control connection:
// it breaks the Cap'n Proto protocol, or floods brig with messages whose replies it
// never reads. brig must kill it, stop the VM in a coordinated way with exit 33 and a
// record naming the device, its pid and the reason, and keep its own memory bounded.
// All of this happens while the guest runs, so every brig thread filter is on.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

uint64_t rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
}

struct HookRun {
    BrigResult result;
    std::string record;         // the --failure-file content
    uint64_t baseline_kib = 0;  // brig's RSS once the guest runs, before the hook
    uint64_t peak_kib = 0;      // brig's highest RSS seen afterwards
};

// Boots `mode` with brig-device-test as every device, samples brig's RSS every 10 ms.
HookRun run_hook(const std::string& mode) {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    BrigRun run{guest_args(mode, {"--failure-file", failure.path, "--console", "sink"})};
    run.timeout = std::chrono::seconds(30);
    HookRun out;
    std::atomic<bool> done{false};
    std::thread sampler;
    run.on_output = [&](const std::string&, pid_t pid) {
        if (sampler.joinable()) return;
        out.baseline_kib = rss_kib(pid);
        sampler = std::thread([&, pid] {
            while (!done) {
                out.peak_kib = std::max(out.peak_kib, rss_kib(pid));
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
    };
    out.result = run_brig(run);
    done = true;
    if (sampler.joinable()) sampler.join();
    out.record = failure.content();
    return out;
}

// Exit 33, one line naming the serial device, its pid and the reason; the same in
// the record; the other devices stopped cleanly (none had to be killed).
void require_device_killed_for(const HookRun& run, const std::string& reason) {
    const BrigResult& r = run.result;
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err << "\nrecord: " << run.record);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.term_signal == 0);
    CHECK(r.exit_code == 33);
    std::smatch m;
    REQUIRE(
        std::regex_search(run.record, m, std::regex("^DEVICE_CRASHED serial pid=([0-9]+) reason=" + reason + "\n$")));
    const std::string pid = m[1];
    REQUIRE_FALSE(r.err_lines().empty());
    CHECK_THAT(r.err_lines().back(), Contains("serial (pid " + pid + ") killed by brig: " + reason));
    CHECK_THAT(r.err, !Contains("did not exit"));
    CHECK_THAT(r.err, !Contains("seccomp"));
}

}  // namespace

TEST_CASE("a device that sends a frame header claiming 2^31 words is killed: control-protocol", "[control]") {
    require_device_killed_for(run_hook("hook-control-malformed"), "control-protocol");
}

TEST_CASE("a device that calls an import id that does not exist is killed: control-protocol", "[control]") {
    require_device_killed_for(run_hook("hook-control-bogus-call"), "control-protocol");
}

namespace {
// A flood gets the device killed (control-flood) and keeps brig's RSS within 2x its
// baseline; the figures are printed for the record.
HookRun require_flood_bounded(const std::string& mode, const char* label) {
    HookRun run = run_hook(mode);
    require_device_killed_for(run, "control-flood");
    std::fprintf(stderr, "%s: brig RSS baseline %llu KiB, peak %llu KiB\n", label,
                 static_cast<unsigned long long>(run.baseline_kib), static_cast<unsigned long long>(run.peak_kib));
    CHECK(run.baseline_kib > 0);
    CHECK(run.peak_kib <= 2 * run.baseline_kib);
    return run;
}
}  // namespace

TEST_CASE("a flood of 300,000 error reports never read: the device is killed, brig's memory stays bounded",
          "[control]") {
    const HookRun run = require_flood_bounded("hook-report-flood", "report flood");
    // Logged on the device's behalf: a few lines, then a count, never 300,000 lines.
    CHECK(run.result.err_lines().size() < 40);
}

TEST_CASE("a flood of 300,000 bootstrap requests never read: the device is killed, brig's memory stays bounded",
          "[control]") {
    require_flood_bounded("hook-bootstrap-flood", "bootstrap flood");
}

TEST_CASE("a device that stops answering fails one access, not 1024: a rep insb ends the VM in seconds", "[control]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    BrigRun run{guest_args("hook-stall-insb", {"--failure-file", failure.path})};
    run.timeout = std::chrono::seconds(60);
    const BrigResult r = run_brig(run);
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.term_signal == 0);
    CHECK(r.exit_code == 33);
    // One reply timeout (1 s), the other devices' shutdown, and the stuck one's kill.
    CHECK(r.elapsed < std::chrono::seconds(8));
    CHECK_THAT(failure.content(), Catch::Matchers::StartsWith("DEVICE_CRASHED serial pid="));
    CHECK_THAT(r.err, Contains("did not answer"));
    CHECK_THAT(r.err, !Contains("seccomp"));
}
