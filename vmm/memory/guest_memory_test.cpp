#include "vmm/memory/guest_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>

#include "vmm/error.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::layout;

TEST_CASE("guest memory below 3 GiB is one region at address 0", "[memory]") {
    auto mem = GuestMemory::create(64 * MiB);
    REQUIRE(mem.regions().size() == 1);
    CHECK(mem.regions()[0].guest_addr == 0);
    CHECK(mem.regions()[0].size == 64 * MiB);
    CHECK(mem.low_ram_end() == 64 * MiB);
}

TEST_CASE("guest memory above 3 GiB skips the MMIO hole", "[memory]") {
    auto mem = GuestMemory::create(4 * GiB);
    REQUIRE(mem.regions().size() == 2);
    CHECK(mem.regions()[0].size == kMmioHoleStart);
    CHECK(mem.regions()[1].guest_addr == kMmioHoleEnd);
    CHECK(mem.regions()[1].size == 1 * GiB);
    CHECK_FALSE(mem.contains(kMmioHoleStart, 1));
    CHECK(mem.contains(kMmioHoleEnd, 1 * GiB));
    CHECK_FALSE(mem.contains(kMmioHoleEnd, 1 * GiB + 1));
}

TEST_CASE("guest memory bounds checks never overflow", "[memory]") {
    auto mem = GuestMemory::create(16 * MiB);
    CHECK(mem.contains(0, 16 * MiB));
    CHECK(mem.contains(16 * MiB, 0));
    CHECK_FALSE(mem.contains(16 * MiB - 1, 2));
    CHECK_FALSE(mem.contains(UINT64_MAX, 2));
    CHECK_FALSE(mem.contains(8, UINT64_MAX - 4));
    CHECK_THROWS_AS(mem.slice(16 * MiB - 4, 8), std::out_of_range);
    mem.write_obj<uint32_t>(0x1000, 0xdeadbeef);
    CHECK(mem.read_obj<uint32_t>(0x1000) == 0xdeadbeef);
}

TEST_CASE("guest memory memfd is sealed against shrinking", "[memory]") {
    auto mem = GuestMemory::create(16 * MiB);
    const int seals = fcntl(mem.memfd(), F_GET_SEALS);
    CHECK((seals & F_SEAL_SHRINK) != 0);
    CHECK(ftruncate(mem.memfd(), 4096) != 0);
}

TEST_CASE("guest memory rejects sizes it cannot lay out", "[memory]") {
    CHECK_THROWS_AS(GuestMemory::create(1 * MiB), InvalidArgument);
    CHECK_THROWS_AS(GuestMemory::create(17 * MiB), InvalidArgument);
}
