#include "vmm/board/cpu_topology.h"

#include <catch2/catch.hpp>

using brig::CpuTopology;

TEST_CASE("APIC ids pack thread, core and socket into fields as wide as their counts", "[cpuid]") {
    CHECK(CpuTopology::flat(4).apic_ids() == std::vector<uint32_t>{0, 1, 2, 3});
    const CpuTopology two_by_three{2, 3, 1};
    CHECK(two_by_three.core_bits() == 2);
    CHECK(two_by_three.apic_ids() == std::vector<uint32_t>{0, 1, 2, 4, 5, 6});
    const CpuTopology smt{2, 2, 2};
    CHECK(smt.thread_bits() == 1);
    CHECK(smt.core_bits() == 1);
    CHECK(smt.apic_ids() == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7});
    const CpuTopology odd{1, 3, 3};  // 3 threads need 2 bits, 3 cores 2 more
    CHECK(odd.apic_ids() == std::vector<uint32_t>{0, 1, 2, 4, 5, 6, 8, 9, 10});
    CHECK(CpuTopology{}.count() == 1);
    CHECK(CpuTopology{}.apic_id(0) == 0);
}
