#include <catch2/catch.hpp>
#include <cstdint>

#include "ipc/guest_ram_map.h"

using brig::ipc::GuestRamMap;
using brig::ipc::kRamHoleEnd;
using brig::ipc::kRamHoleStart;

TEST_CASE("guest RAM splits at the MMIO hole and resumes at 4 GiB", "[guest-ram]") {
    const GuestRamMap small(64ull << 20);
    REQUIRE(small.regions().size() == 1);
    CHECK(small.offset_of(0, 64ull << 20) == 0);
    CHECK_FALSE(small.offset_of(64ull << 20, 1));

    const GuestRamMap big(kRamHoleStart + (1ull << 30));
    REQUIRE(big.regions().size() == 2);
    CHECK(big.regions()[1].guest_addr == kRamHoleEnd);
    CHECK(big.offset_of(kRamHoleStart - 1, 1) == kRamHoleStart - 1);
    CHECK_FALSE(big.offset_of(kRamHoleStart - 1, 2));  // one byte into the hole
    CHECK_FALSE(big.offset_of(kRamHoleStart, 1));
    CHECK(big.offset_of(kRamHoleEnd, 16) == kRamHoleStart);  // right after the low part in the memfd
    CHECK(big.offset_of(kRamHoleEnd + (1ull << 30) - 1, 1) == kRamHoleStart + (1ull << 30) - 1);
    CHECK_FALSE(big.offset_of(kRamHoleEnd + (1ull << 30) - 1, 2));
}

TEST_CASE("a guest address and length that would wrap are outside RAM", "[guest-ram]") {
    const GuestRamMap map(kRamHoleStart + 4096);
    CHECK_FALSE(map.offset_of(UINT64_MAX, 2));
    CHECK_FALSE(map.offset_of(4096, UINT64_MAX));
    CHECK_FALSE(map.offset_of(kRamHoleEnd + 8, UINT64_MAX - 4));
    CHECK(map.offset_of(0, 0) == 0);
}

TEST_CASE("a flat map is one region from 0", "[guest-ram]") {
    const auto flat = GuestRamMap::flat(kRamHoleStart + 4096);
    REQUIRE(flat.regions().size() == 1);
    CHECK(flat.offset_of(kRamHoleStart, 4096) == kRamHoleStart);
    CHECK(GuestRamMap::flat(0).regions().empty());
}
