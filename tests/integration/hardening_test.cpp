// brig's own hardening (issue 8, item 15): every thread filter is on before the guest's
// first instruction, files brig writes are never reached through a symbolic link, and
// the shipped brig ignores the test builds' BRIG_DEVICE_BINARY.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

BrigResult run_with(const std::string& binary, const std::vector<std::string>& args) {
    BrigRun run{args};
    run.binary = binary;
    run.timeout = std::chrono::seconds(60);
    return run_brig(run);
}

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

// A file that must survive, and a link to it where brig is told to write.
struct PlantedLink {
    TempDir dir;
    std::filesystem::path target = dir.path / "precious";
    std::filesystem::path link = dir.path / "out";
    PlantedLink() {
        std::ofstream(target) << "keep me\n";
        std::filesystem::create_symlink(target, link);
    }
};

void require_link_refused(const BrigResult& r, const std::string& flag, const PlantedLink& planted) {
    require_exit(r, 35);
    const auto lines = r.err_lines();
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Contains(flag + ": " + planted.link.string() + " is a symbolic link"));
    CHECK(read(planted.target) == "keep me\n");
}

}  // namespace

TEST_CASE("the guest runs only once brig's main and IPC threads are filtered", "[hardening]") {
    // Each vCPU thread checks, just before its first KVM_RUN, that the main and IPC
    // filters are on; if they went on later the run would end INTERNAL_ERROR, guest unrun.
    TempFile failure;
    const auto r = run_guest("mode=info", {"--cpus", "2", "--failure-file", failure.path});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("cpus: 2\n"));
    CHECK(failure.content() == "SHUTDOWN\n");
}

TEST_CASE("console output files behind a symbolic link are refused", "[hardening]") {
    PlantedLink serial;
    require_link_refused(run_guest("mode=poweroff", {"--serial", "file=" + serial.link.string()}), "--serial", serial);
    PlantedLink console;
    require_link_refused(run_guest("mode=poweroff", {"--serial", "sink", "--console", "file=" + console.link.string()}),
                         "--console", console);
}

TEST_CASE("a --failure-file behind a symbolic link is refused", "[hardening]") {
    PlantedLink failure;
    require_link_refused(run_guest("mode=poweroff", {"--failure-file", failure.link.string()}), "--failure-file",
                         failure);
}

TEST_CASE("learned policies are never written through a symbolic link", "[hardening]") {
    TempDir out;
    PlantedLink planted;
    const auto link = out.path / "virtio_rng_device.policy.tmp";
    std::filesystem::create_symlink(planted.target, link);
    const auto r = run_guest("mode=rng", {"--seccomp=learn", "--policy-out", out.path.string()});
    require_exit(r, 35);
    CHECK_THAT(r.err, Contains("--policy-out: " + link.string() + " is a symbolic link"));
    CHECK(read(planted.target) == "keep me\n");
}

TEST_CASE("the shipped brig ignores BRIG_DEVICE_BINARY; the test build honours it", "[hardening]") {
    const std::string shipped = env_or_fail("BRIG_SHIPPED");
    REQUIRE(shipped != brig_binary());
    const std::vector<std::string> args = {"run",           "--kernel", test_guest(), "--cmdline",
                                           "mode=poweroff", "--mem",    "64"};
    DeviceBinary bogus("/nonexistent/brig-device");
    const auto test_build = run_with(brig_binary(), args);
    require_exit(test_build, 1);
    CHECK_THAT(test_build.err, Contains("BRIG_DEVICE_BINARY"));

    const auto r = run_with(shipped, args);
    require_exit(r, 0);
    CHECK_THAT(r.err, !Contains("BRIG_DEVICE_BINARY"));
}
