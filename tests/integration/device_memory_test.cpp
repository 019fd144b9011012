// A device's memory is bounded: RLIMIT_DATA per device kind always, and with
// --cgroup-parent a cgroup of its own with a memory and a task limit. The test device
// (brig-device-test) allocates and touches memory on request (guest mode hook-alloc)
// until that fails; brig must stop with exit 33 naming the device, its pid and why.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>

#include "brig_process.h"
#include "temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// A number from `brig policy show KIND --json`, found by a regex with one group.
uint64_t shown_number(const std::string& kind, const std::string& pattern) {
    const auto r = run_brig({{"policy", "show", kind, "--json"}});
    REQUIRE(r.exit_code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex(pattern)));
    return std::stoull(m[1]);
}

uint64_t shown_rlimit_data(const std::string& kind) {
    return shown_number(kind, R"re("name"\s*:\s*"RLIMIT_DATA"\s*,\s*"soft"\s*:\s*(\d+))re");
}

}  // namespace

TEST_CASE("a device cannot grow past its RLIMIT_DATA: the allocation fails and brig exits 33 naming it", "[sandbox]") {
    const uint64_t limit = shown_rlimit_data("serial");
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    BrigRun run{guest_args("hook-alloc", {"--failure-file", failure.path})};
    run.timeout = std::chrono::seconds(30);
    const auto r = run_brig(run);
    INFO("stdout:\n" << r.out.substr(0, 2000) << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    std::smatch m;
    REQUIRE(std::regex_search(r.err, m, std::regex(R"(test hook: allocated (\d+) MiB before an allocation failed)")));
    const uint64_t got = std::stoull(m[1]) * kMiB;
    CHECK(got >= 8 * kMiB);  // the hook ran and the heap works below the bound
    CHECK(got < limit);      // and never past it
    REQUIRE(std::regex_search(r.err, m, std::regex(R"(device crashed: serial \(pid (\d+)\) exited with status 3 \(out of memory)")));
    CHECK(failure.content() == "DEVICE_CRASHED serial pid=" + m[1].str() + " exit=3 reason=memory-limit\n");
}
