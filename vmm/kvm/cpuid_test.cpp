#include "vmm/kvm/cpuid.h"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace brig;

namespace {
kvm_cpuid_entry2 entry(uint32_t function, uint32_t index = 0) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    e.eax = e.ebx = e.ecx = e.edx = 0xffffffff;
    return e;
}
const kvm_cpuid_entry2& find(const std::vector<kvm_cpuid_entry2>& v, uint32_t function, uint32_t index = 0) {
    for (const auto& e : v)
        if (e.function == function && e.index == index) return e;
    FAIL("leaf missing");
    return v.front();
}
}  // namespace

TEST_CASE("cpuid leaf 1 carries the APIC id, the vCPU count and the hypervisor bit", "[cpuid]") {
    auto out = normalize_cpuid({entry(1)}, 3, 4);
    const auto& l1 = find(out, 1);
    CHECK((l1.ebx >> 24) == 3);
    CHECK(((l1.ebx >> 16) & 0xff) == 4);
    CHECK((l1.ecx & (1u << 31)) != 0);  // hypervisor
    CHECK((l1.ecx & (1u << 3)) == 0);   // no monitor/mwait
    CHECK((l1.ecx & (1u << 5)) == 0);   // no nested VMX
    CHECK((l1.edx & (1u << 28)) != 0);  // HTT: more than one logical CPU
    auto single = normalize_cpuid({entry(1)}, 0, 1);
    CHECK((find(single, 1).edx & (1u << 28)) == 0);
}

TEST_CASE("cpuid topology leaf 0xB describes N cores of one thread", "[cpuid]") {
    auto out = normalize_cpuid({entry(0xb, 0), entry(0xb, 1), entry(0xb, 2)}, 2, 3);
    CHECK(find(out, 0xb, 0).ebx == 1);
    CHECK(find(out, 0xb, 0).edx == 2);
    CHECK(find(out, 0xb, 1).ebx == 3);
    CHECK(find(out, 0xb, 1).eax == 2);  // ceil(log2(3)) bits of core id
    CHECK(((find(out, 0xb, 1).ecx >> 8) & 0xff) == 2);
    CHECK(((find(out, 0xb, 2).ecx >> 8) & 0xff) == 0);  // invalid level ends the list
}

TEST_CASE("cpuid masks thermal, PMU and cache sharing beyond the vCPU count", "[cpuid]") {
    auto out = normalize_cpuid({entry(6), entry(0xa), entry(4, 0)}, 0, 2);
    CHECK(find(out, 6).eax == 0);
    CHECK(find(out, 0xa).eax == 0);
    CHECK((find(out, 4).eax >> 26) == 1);
}

TEST_CASE("cpuid describes sockets x cores x threads, whatever subleaves KVM listed", "[cpuid]") {
    const CpuTopology topology{2, 3, 2};  // 12 vCPUs: thread 1 bit, core 2 bits
    // vCPU 7: socket 1, core 0, thread 1.
    auto out = normalize_cpuid({entry(1), entry(0xb, 0), entry(4, 0)}, 7, topology);
    const uint32_t apic = (1u << 3) | (0u << 1) | 1u;
    CHECK(topology.apic_id(7) == apic);
    CHECK((find(out, 1).ebx >> 24) == apic);
    CHECK(((find(out, 1).ebx >> 16) & 0xff) == 6);  // logical processors per package
    CHECK(find(out, 0xb, 0).eax == 1);
    CHECK(find(out, 0xb, 0).ebx == 2);
    CHECK(find(out, 0xb, 0).edx == apic);
    CHECK(find(out, 0xb, 1).eax == 3);  // past the thread and core fields
    CHECK(find(out, 0xb, 1).ebx == 6);
    CHECK(((find(out, 0xb, 1).ecx >> 8) & 0xff) == 2);
    CHECK(find(out, 0xb, 1).edx == apic);
    CHECK(((find(out, 0xb, 2).ecx >> 8) & 0xff) == 0);  // added, and invalid: the end
    CHECK((find(out, 0xb, 1).flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0);
    CHECK((find(out, 4).eax >> 26) == 2);  // cores per package minus one
    // Leaf 4 subleaf 0 came with every bit set: cache level 7 counts as shared by the package.
    CHECK(((find(out, 4).eax >> 14) & 0xfff) == 5);
    CHECK(std::count_if(out.begin(), out.end(), [](const auto& e) { return e.function == 0x1f; }) == 0);
}
