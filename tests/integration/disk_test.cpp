// --disk as an operator meets it: an image in use by another VM or twice in one,
// read-only sharing, images brig must not attach as raw (qcow2, a partial sector),
// and more disks than the old limit of 4, each reachable by the guest.
#include <signal.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

constexpr size_t kSector = 512;
constexpr size_t kImageSize = 64 * 1024;

// Refused before the guest ran: exit 35, and brig's one line names --disk and the image.
void require_refused(const BrigResult& r, const std::string& image, const std::string& why) {
    require_exit(r, 35);
    CHECK(r.out.empty());
    const auto lines = r.err_lines();
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Contains("--disk: " + image));
    CHECK_THAT(lines[0], Contains(why));
}

// Runs a spinning guest on `first_disk` and, while it runs, `second` (a whole brig run);
// then stops the first with SIGTERM. Returns the second run's result.
BrigResult while_another_vm_runs(const std::string& first_disk, const std::vector<std::string>& second) {
    BrigResult second_result;
    bool started = false;
    BrigRun first{{"run", "--kernel", test_guest(), "--cmdline", "mode=spin", "--mem", "64", "--disk", first_disk}};
    first.timeout = std::chrono::seconds(60);
    first.on_output = [&](const std::string& out, pid_t pid) {
        if (started || out.find("spin: 1\n") == std::string::npos) return;
        started = true;
        BrigRun run{second};
        run.timeout = std::chrono::seconds(30);
        second_result = run_brig(run);
        kill(pid, SIGTERM);
    };
    const auto r = run_brig(first);
    INFO("first VM stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(started);
    require_exit(r, 0);  // stopped by our SIGTERM, with its disk all along
    CHECK_THAT(r.err, Contains("stopped by SIGTERM"));
    return second_result;
}

std::vector<std::string> disk_args(const std::vector<std::string>& disks) {
    std::vector<std::string> args;
    for (const auto& d : disks) args.insert(args.end(), {"--disk", d});
    return args;
}

}  // namespace

TEST_CASE("an image a running VM writes is refused to a second VM, writable or read-only", "[disks]") {
    TempImage disk(kImageSize);
    const std::vector<std::string> second = {"run",   "--kernel", test_guest(), "--cmdline", "mode=poweroff",
                                             "--mem", "64",       "--disk",     disk.path};
    require_refused(while_another_vm_runs(disk.path, second), disk.path, "in use");

    auto read_only = second;
    read_only.back() = disk.path + ",ro";
    require_refused(while_another_vm_runs(disk.path, read_only), disk.path + ",ro", "in use for writing");

    // Once the first VM is gone its lock is too.
    require_exit(run_guest("mode=poweroff", {"--disk", disk.path}), 0);
}

TEST_CASE("the same image twice in one VM is refused, and the record names --disk", "[disks]") {
    TempImage disk(kImageSize);
    TempFile failure;
    const auto r =
        run_guest("mode=poweroff", {"--disk", disk.path, "--disk", disk.path, "--failure-file", failure.path});
    require_refused(r, disk.path, "in use");
    CHECK(failure.content() == "INVALID_ARGUMENT --disk\n");

    require_refused(run_guest("mode=poweroff", {"--disk", disk.path + ",ro", "--disk", disk.path}), disk.path,
                    "in use");
}

TEST_CASE("a read-only image may be attached twice, and the guest sees both", "[disks]") {
    TempImage disk(kImageSize);
    const auto r =
        run_guest("mode=virtio-info", {"--disk", disk.path + ",ro", "--disk", disk.path + ",ro", "--no-rng"});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("id=2 base=0xd0000000"));
    CHECK_THAT(r.out, Contains("id=2 base=0xd0001000"));
    CHECK_THAT(r.out, Contains("virtio: devices=2"));
}

TEST_CASE("a qcow2 image is refused, not attached as raw", "[disks]") {
    TempImage disk(kImageSize);
    std::vector<uint8_t> bytes = disk.bytes();
    const uint8_t qcow2_header[] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
    std::copy(std::begin(qcow2_header), std::end(qcow2_header), bytes.begin());
    disk.set(bytes);
    require_refused(run_guest("mode=poweroff", {"--disk", disk.path}), disk.path, "a qcow2 image");
    require_refused(run_guest("mode=poweroff", {"--disk", disk.path + ",ro"}), disk.path + ",ro", "a qcow2 image");
}

TEST_CASE("an image that is not whole 512-byte sectors is refused", "[disks]") {
    TempImage disk(1000);
    require_refused(run_guest("mode=poweroff", {"--disk", disk.path}), disk.path,
                    "1000 bytes, is not a multiple of 512");
}

TEST_CASE("eight disks, rng and console: the guest sees all ten, and writes the disk it picks", "[disks]") {
    std::vector<std::unique_ptr<TempImage>> images;
    std::vector<std::string> paths;
    for (int i = 0; i < 8; ++i) {
        images.push_back(std::make_unique<TempImage>(kImageSize));
        paths.push_back(images.back()->path);
    }
    auto args = disk_args(paths);
    args.insert(args.end(), {"--rng", "--console", "sink"});

    const auto info = run_guest("mode=virtio-info", args);
    require_exit(info, 0);
    CHECK_THAT(info.out, Contains("virtio: devices=10"));
    CHECK_THAT(info.out, Contains("id=2 base=0xd0007000"));  // the eighth disk
    CHECK_THAT(info.out, Contains("id=4 base=0xd0008000"));  // rng
    CHECK_THAT(info.out, Contains("id=3 base=0xd0009000"));  // console

    const unsigned seed = 9, sectors = 16;
    const auto write =
        run_guest("mode=blk-write disk=5 seed=" + std::to_string(seed) + " sectors=" + std::to_string(sectors), args);
    require_exit(write, 0);
    CHECK_THAT(write.out, Contains("blk: verify ok"));
    for (size_t d = 0; d < images.size(); ++d) {
        INFO("disk " << d);
        const auto bytes = images[d]->bytes();
        REQUIRE(bytes.size() == kImageSize);
        size_t differ = 0;
        for (size_t s = 0; s < sectors; ++s)
            for (size_t i = 0; i < kSector; ++i) {
                const auto want = d == 5 ? static_cast<uint8_t>((s * 7 + i * 13 + seed) & 0xff) : 0;
                differ += bytes[s * kSector + i] != want;
            }
        CHECK(differ == 0);
    }
}

TEST_CASE("as many disks as the virtio-mmio windows hold, and one more is refused", "[disks]") {
    // 16 windows: 14 disks leave one each for rng and console.
    std::vector<std::unique_ptr<TempImage>> images;
    std::vector<std::string> paths;
    for (int i = 0; i < 15; ++i) {
        images.push_back(std::make_unique<TempImage>(kImageSize));
        paths.push_back(images.back()->path);
    }
    std::vector<std::string> fourteen(paths.begin(), paths.begin() + 14);
    auto args = disk_args(fourteen);
    args.insert(args.end(), {"--rng", "--console", "sink"});
    const auto r = run_guest("mode=virtio-info", args);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("virtio: devices=16"));

    auto too_many = disk_args(paths);
    const auto refused = run_guest("mode=poweroff", too_many);
    require_exit(refused, 35);
    CHECK_THAT(refused.err, Contains("--disk: at most 14 disks"));
}
