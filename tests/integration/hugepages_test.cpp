// --hugepages: guest RAM on 2 MiB huge pages, still the sealed memfd the devices map.
// The test reserves the pages it needs in /proc/sys/vm/nr_hugepages and gives them
// back afterwards, whatever happens.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

constexpr unsigned kGuestMiB = 64;
constexpr unsigned kGuestPages = kGuestMiB / 2;

uint64_t meminfo(const std::string& field) {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
    FAIL("no " << field << " in /proc/meminfo");
    return 0;
}

void set_nr_hugepages(uint64_t pages) {
    std::ofstream out("/proc/sys/vm/nr_hugepages");
    out << pages << "\n";
    out.flush();
    REQUIRE(out.good());
}

// More huge pages for the test's life; the host's own count comes back after.
struct HugePageReservation {
    explicit HugePageReservation(uint64_t more) : before(meminfo("HugePages_Total")) {
        set_nr_hugepages(before + more);
        REQUIRE(meminfo("HugePages_Total") == before + more);
    }
    ~HugePageReservation() { set_nr_hugepages(before); }
    uint64_t before;
};

// "KernelPageSize" of brig's mapping of its guest RAM memfd, in kB; 0 if not found.
uint64_t guest_ram_page_kib(pid_t brig) {
    std::ifstream smaps("/proc/" + std::to_string(brig) + "/smaps");
    std::string line;
    bool in_guest_ram = false;
    while (std::getline(smaps, line)) {
        if (line.find(" /memfd:brig-guest-ram") != std::string::npos) in_guest_ram = true;
        if (in_guest_ram && line.rfind("KernelPageSize:", 0) == 0) return std::strtoull(line.c_str() + 15, nullptr, 10);
    }
    return 0;
}

}  // namespace

TEST_CASE("--hugepages: guest RAM on 2 MiB pages, all reserved at start, shared with a jailed virtio-blk",
          "[hugepages]") {
    HugePageReservation reserved(kGuestPages);
    const uint64_t free_before = meminfo("HugePages_Free");
    TempImage disk(1 << 20);
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=blk-write seed=7", "--mem",
                 std::to_string(kGuestMiB), "--disk", disk.path, "--hugepages"}};
    run.timeout = std::chrono::seconds(60);
    uint64_t page_kib = 0, taken = 0;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (page_kib != 0 || out.find("blk: capacity=") == std::string::npos) return;
        page_kib = guest_ram_page_kib(pid);
        // Reserved pages are still "free" until touched; reserved or touched, they are the VM's.
        taken = free_before - (meminfo("HugePages_Free") - meminfo("HugePages_Rsvd"));
    };
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("blk: verify ok"));  // the device wrote through its own mapping
    CHECK(page_kib == 2048);
    CHECK(taken == kGuestPages);
    CHECK(meminfo("HugePages_Free") == free_before);  // every page back once brig is gone
    CHECK(meminfo("HugePages_Rsvd") == 0);
}

TEST_CASE("--hugepages: a host without enough free huge pages is one line and exit 35", "[hugepages]") {
    HugePageReservation reserved(2);  // fewer than the guest needs
    const uint64_t free_pages = meminfo("HugePages_Free");
    const uint64_t mib = std::max<uint64_t>(16, (free_pages + 1) * 2);
    const auto r = run_brig(
        {{"run", "--kernel", test_guest(), "--cmdline", "mode=poweroff", "--mem", std::to_string(mib), "--hugepages"}});
    CHECK(r.exit_code == 35);
    CHECK(r.err_lines().size() == 1);
    CHECK_THAT(r.err, Contains("--hugepages: the guest's " + std::to_string(mib) + " MiB need " +
                               std::to_string(mib / 2) + " free 2 MiB huge pages, the host has"));
}
