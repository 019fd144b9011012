// Guest errors are the guest's business: none of these may stop the VM with a
// "device crashed" (exit 33). Every brig thread filter is on, as in any run.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

void require_clean_exit(const BrigResult& r) {
    INFO("stdout:\n" << r.out.substr(0, 4000) << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.term_signal == 0);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, !Contains("DEVICE_CRASHED"));
}

}  // namespace

TEST_CASE("a 4-byte access across the end of a virtio window (KVM hands over 3 bytes) is no device crash",
          "[guest-errors]") {
    const auto r = run_brig({guest_args("hostile-mmio-split")});
    require_clean_exit(r);
    CHECK_THAT(r.out, Contains("mmio-split: done"));
}

TEST_CASE("a console reader that stalls for 2.5 s stalls nothing: the guest's output arrives whole", "[guest-errors]") {
    constexpr size_t kBytes = 32768;  // a multiple of 64
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=print-flood bytes=" + std::to_string(kBytes),
                 "--mem", "64"}};
    // A one-page pipe fills after a few lines; then the reader goes away for a while.
    run.in_child = [] { fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 4096); };
    bool stalled = false;
    run.on_output = [&](const std::string&, pid_t) {
        if (stalled) return;
        stalled = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    };
    const auto r = run_brig(run);
    require_clean_exit(r);
    CHECK(stalled);
    CHECK_THAT(r.out, Contains("flood: done"));
    // The guest prints lines of 63 'x' and a newline.
    CHECK(static_cast<size_t>(std::count(r.out.begin(), r.out.end(), 'x')) == kBytes / 64 * 63);
}

TEST_CASE("a reset while the device processes a long batch does not wait for it, and completes after it",
          "[guest-errors]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    const auto r = run_brig({guest_args("hostile-reset-during-batch")});
    require_clean_exit(r);
    CHECK_THAT(r.out, Contains("reset-batch: status=0"));
}
