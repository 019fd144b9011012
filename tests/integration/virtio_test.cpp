// virtio-blk, virtio-rng and virtio-console through jailed device processes, seen by
// the test guest's own virtio-mmio driver: data integrity both ways, read-only disks,
// requests past the end, and a hostile guest that hands the devices bad queues.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

constexpr size_t kSector = 512;

std::string sha256_of(const std::string& path) {
    const std::string cmd = "sha256sum '" + path + "'";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[128] = {};
    REQUIRE(fgets(buf, sizeof buf, p) != nullptr);
    pclose(p);
    return std::string(buf).substr(0, 64);
}

// The guest's pattern (tests/guest, blk-write): byte i of sector s.
uint8_t pattern(uint64_t sector, uint64_t i, unsigned seed) {
    return static_cast<uint8_t>((sector * 7 + i * 13 + seed) & 0xff);
}

uint64_t fnv1a64(const uint8_t* data, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) {
        h ^= data[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

}  // namespace

TEST_CASE("the guest finds brig's virtio devices through their MMIO windows", "[virtio]") {
    TempImage disk(1 << 20);
    const auto r = run_guest("mode=virtio-info", {"--disk", disk.path, "--console", "sink"});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("id=2 base=0xd0000000"));
    CHECK_THAT(r.out, Contains("id=4 base=0xd0001000"));
    CHECK_THAT(r.out, Contains("id=3 base=0xd0002000"));
}

TEST_CASE("a pattern the guest writes is on the host image byte for byte", "[virtio]") {
    const unsigned seed = 42, sectors = 256;
    TempImage disk(1 << 20);
    const auto r = run_guest("mode=blk-write seed=" + std::to_string(seed) + " sectors=" + std::to_string(sectors),
                             {"--disk", disk.path});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("blk: capacity=2048 sectors"));
    CHECK_THAT(r.out, Contains("blk: flush status=0"));
    CHECK_THAT(r.out, Contains("blk: verify ok"));
    std::vector<uint8_t> expected(1 << 20, 0);
    for (uint64_t s = 0; s < sectors; ++s)
        for (uint64_t i = 0; i < kSector; ++i) expected[s * kSector + i] = pattern(s, i, seed);
    TempImage want(0);
    want.set(expected);
    CHECK(sha256_of(disk.path) == sha256_of(want.path));
}

TEST_CASE("--disable-sandbox runs every virtio device in brig's process, and the disk is really written", "[virtio]") {
    // It used to drop every virtio device and boot anyway, so a guest whose root is on
    // --disk booted without it.
    TempImage disk(1 << 20);
    auto r = run_guest("mode=virtio-info", {"--disable-sandbox", "--disk", disk.path, "--console", "sink"});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("id=2 base=0xd0000000"));
    CHECK_THAT(r.out, Contains("id=4 base=0xd0001000"));
    CHECK_THAT(r.out, Contains("id=3 base=0xd0002000"));
    CHECK_THAT(r.out, Contains("virtio: devices=3"));

    const unsigned seed = 7, sectors = 64;
    r = run_guest("mode=blk-write seed=" + std::to_string(seed) + " sectors=" + std::to_string(sectors),
                  {"--disable-sandbox", "--disk", disk.path});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("blk: verify ok"));
    std::vector<uint8_t> expected(1 << 20, 0);
    for (uint64_t s = 0; s < sectors; ++s)
        for (uint64_t i = 0; i < kSector; ++i) expected[s * kSector + i] = pattern(s, i, seed);
    TempImage want(0);
    want.set(expected);
    CHECK(sha256_of(disk.path) == sha256_of(want.path));

    r = run_guest("mode=rng", {"--disable-sandbox"});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("rng: nonzero=1"));
}

TEST_CASE("a host-prepared image reads back with the same checksum in the guest", "[virtio]") {
    TempImage disk(1 << 20);
    std::vector<uint8_t> data(1 << 20);
    uint32_t x = 12345;
    for (auto& b : data) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 16);
    disk.set(data);
    // The guest hashes in emulated ring 0 (~15 instructions a byte): keep it to 128 KiB.
    constexpr size_t kSectors = 256;
    const auto r = run_guest("mode=blk-checksum sectors=" + std::to_string(kSectors), {"--disk", disk.path});
    require_exit(r, 0);
    char want[32];
    std::snprintf(want, sizeof want, "0x%016llx",
                  static_cast<unsigned long long>(fnv1a64(data.data(), kSectors * kSector)));
    CHECK_THAT(r.out, Contains(std::string("blk: fnv1a64=") + want));
}

TEST_CASE("a read-only disk refuses writes and stays unchanged", "[virtio]") {
    TempImage disk(1 << 20, 0x5a);
    const std::string before = sha256_of(disk.path);
    const auto r = run_guest("mode=blk-ro", {"--disk", disk.path + ",ro"});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("blk: ro=1"));
    CHECK_THAT(r.out, Contains("blk: write status=1"));
    CHECK_THAT(r.out, Contains("blk: read status=0"));
    CHECK(sha256_of(disk.path) == before);
}

TEST_CASE("requests past the end of the disk are refused", "[virtio]") {
    TempImage disk(1 << 20);
    const auto r = run_guest("mode=blk-past-end", {"--disk", disk.path});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("blk: past-end status=1"));
}

TEST_CASE("virtio-rng gives the guest entropy", "[virtio]") {
    const auto r = run_guest("mode=rng", {});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("rng: nonzero=1"));
}

TEST_CASE("virtio-console output reaches its file", "[virtio]") {
    const TempFile console;
    const auto r = run_guest("mode=console", {"--console", "file=" + console.path});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("console: sent"));
    CHECK_THAT(console.content(), Contains("hello from hvc0"));
}

TEST_CASE("a hostile guest's bad queues put the device in NEEDS_RESET; brig keeps running", "[virtio][hostile]") {
    const std::string hostile = GENERATE(as<std::string>{}, "hostile-oob", "hostile-len-overflow", "hostile-loop",
                                         "hostile-avail-jump", "hostile-qsize", "hostile-indirect-oob");
    TempImage disk(1 << 20, 0x11);
    const std::string before = sha256_of(disk.path);
    const auto r = run_guest("mode=" + hostile, {"--disk", disk.path});
    require_exit(r, 0);  // the guest powered off itself: brig and the device survived
    const std::string name = hostile.substr(std::string("hostile-").size());
    std::smatch m;
    const std::regex status("hostile: " + name + " status=0x([0-9a-f]+)");
    REQUIRE(std::regex_search(r.out, m, status));
    CHECK((std::stoul(m[1].str(), nullptr, 16) & 0x40) != 0);  // NEEDS_RESET
    CHECK_THAT(r.out, Contains("hostile: " + name + " recovered=1"));
    CHECK_THAT(r.err, Contains("virtio-blk0"));  // the device's error report, naming it
    CHECK(sha256_of(disk.path) == before);       // nothing written anywhere
}

TEST_CASE("a notify before DRIVER_OK is ignored", "[virtio][hostile]") {
    TempImage disk(1 << 20);
    const auto r = run_guest("mode=hostile-notify-early", {"--disk", disk.path});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("hostile: notify-early used=0 written=0"));
}

TEST_CASE("kill -9 of the blk device during writes: exit 33, and every completed write is on disk", "[virtio]") {
    const unsigned seed = 9;
    TempImage disk(1 << 20);
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=blk-write-log seed=" + std::to_string(seed),
                 "--mem", "64", "--disk", disk.path}};
    run.timeout = std::chrono::seconds(60);
    pid_t device = 0;
    run.on_output = [&](const std::string& out, pid_t brig) {
        if (device != 0 || out.find("blk: done 40\n") == std::string::npos) return;
        // Find brig's virtio-blk0 process by its argv (brig-device KIND NAME ...).
        DIR* proc = opendir("/proc");
        while (dirent* e = readdir(proc)) {
            const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
            if (pid <= 0) continue;
            std::ifstream status("/proc/" + std::to_string(pid) + "/status");
            std::string line, ppid;
            while (std::getline(status, line))
                if (line.rfind("PPid:", 0) == 0) ppid = line.substr(line.find_first_not_of(" \t", 5));
            if (ppid != std::to_string(brig)) continue;
            std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
            std::string argv((std::istreambuf_iterator<char>(cmd)), {});
            if (argv.find(std::string("virtio-blk0\0", 12)) != std::string::npos) device = pid;
        }
        closedir(proc);
        REQUIRE(device > 0);
        kill(device, SIGKILL);
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    REQUIRE(device > 0);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    CHECK_THAT(r.err, Contains("virtio-blk0 (pid " + std::to_string(device) + ") killed by SIGKILL"));
    // The last sector the guest saw completed, and every one before it, hold the pattern.
    const std::regex done("blk: done ([0-9]+)\n");
    uint64_t last = 0;
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), done), end; it != end; ++it) last = std::stoull((*it)[1]);
    REQUIRE(last >= 40);
    const auto image = disk.bytes();
    for (uint64_t s = 0; s <= last; ++s)
        for (uint64_t i = 0; i < kSector; ++i) {
            if (image[s * kSector + i] != pattern(s, i, seed))
                FAIL("sector " << s << " byte " << i << " is not on disk");
        }
}

TEST_CASE("EVENT_IDX and a small queue carry data as well", "[virtio]") {
    TempImage disk(1 << 20);
    std::vector<uint8_t> data(1 << 20);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
    disk.set(data);
    const auto r = run_guest("mode=blk-checksum sectors=128 event-idx=1 qsize=8", {"--disk", disk.path});
    require_exit(r, 0);
    char want[32];
    std::snprintf(want, sizeof want, "0x%016llx", static_cast<unsigned long long>(fnv1a64(data.data(), 128 * kSector)));
    CHECK_THAT(r.out, Contains(std::string("blk: fnv1a64=") + want));
}

TEST_CASE("the README's demo guest uses every device in one boot", "[virtio]") {
    TempImage disk(1 << 20);
    const auto r = run_guest("mode=demo", {"--cpus", "2", "--disk", disk.path, "--console", "stdout"});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("cpus: 2"));
    CHECK_THAT(r.out, Contains("virtio: devices=3"));
    CHECK_THAT(r.out, Contains("rng: nonzero=1"));
    CHECK_THAT(r.out, Contains("hello from hvc0"));
    CHECK_THAT(r.out, Contains("blk: verify ok"));
    CHECK_THAT(r.out, Contains("demo: done"));
}

TEST_CASE("virtio-console reads stdin when the UART does not", "[virtio]") {
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=console-echo", "--mem", "64", "--serial", "sink",
                 "--console", "stdout"}};
    run.stdin_data = "ping-hvc0";
    run.timeout = std::chrono::seconds(60);
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("hvc0 got: ping-hvc0"));
}

TEST_CASE("the guest writes and verifies data at 1.5 GiB and 5 GiB of a sparse 6 GiB disk", "[virtio]") {
    // A real-sized root disk: no limit of the jail may refuse writes at large offsets.
    constexpr uint64_t kGiB = 1ull << 30;
    constexpr unsigned kSectors = 64;
    TempFile disk;
    REQUIRE(truncate(disk.path.c_str(), static_cast<off_t>(6 * kGiB)) == 0);
    const struct Region {
        uint64_t offset;
        unsigned seed;
    } regions[] = {{3 * kGiB / 2, 11}, {5 * kGiB, 23}};
    for (const auto& region : regions) {
        const uint64_t first = region.offset / kSector;
        INFO("region at " << region.offset);
        const auto r = run_guest("mode=blk-write seed=" + std::to_string(region.seed) +
                                     " sectors=" + std::to_string(kSectors) + " start=" + std::to_string(first),
                                 {"--disk", disk.path});
        require_exit(r, 0);
        CHECK_THAT(r.out, Contains("blk: wrote 64 sectors"));
        CHECK_THAT(r.out, Contains("blk: verify ok"));
    }
    std::ifstream in(disk.path, std::ios::binary);
    for (const auto& region : regions) {
        std::vector<uint8_t> bytes(kSectors * kSector);
        in.seekg(static_cast<std::streamoff>(region.offset));
        REQUIRE(in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())));
        size_t mismatches = 0;
        for (uint64_t s = 0; s < kSectors; ++s)
            for (uint64_t i = 0; i < kSector; ++i)
                mismatches += bytes[s * kSector + i] != pattern(region.offset / kSector + s, i, region.seed);
        CHECK(mismatches == 0);
    }
}
