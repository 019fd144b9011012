#include "vmm/kvm/cpuid.h"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace brig {
namespace {

namespace leaf {
constexpr uint32_t kFeatures = 0x1;
constexpr uint32_t kCacheParams = 0x4;
constexpr uint32_t kThermalPower = 0x6;
constexpr uint32_t kPerfMon = 0xa;
constexpr uint32_t kTopology = 0xb;
constexpr uint32_t kTopologyV2 = 0x1f;
constexpr uint32_t kExtFeatures = 0x80000001;
}  // namespace leaf

// Leaf 1.
constexpr uint32_t kEcxMonitor = 1u << 3;
constexpr uint32_t kEcxVmx = 1u << 5;
constexpr uint32_t kEcxEist = 1u << 7;
constexpr uint32_t kEcxTm2 = 1u << 8;
constexpr uint32_t kEcxPdcm = 1u << 15;
constexpr uint32_t kEcxHypervisor = 1u << 31;
constexpr uint32_t kEdxAcpiThermal = 1u << 22;
constexpr uint32_t kEdxHtt = 1u << 28;
constexpr uint32_t kEdxTm = 1u << 29;
constexpr uint32_t kEbxApicIdShift = 24;
constexpr uint32_t kEbxLogicalCountShift = 16;
constexpr uint32_t kEbxLogicalCountMask = 0xffu << kEbxLogicalCountShift;
// Leaf 0x80000001.
constexpr uint32_t kExtEcxSvm = 1u << 2;
// Leaf 4 EAX: cores per package minus one.
constexpr uint32_t kCacheCoresShift = 26;
constexpr uint32_t kCacheCoresMask = 0x3fu << kCacheCoresShift;
// Leaf 0xB/0x1F ECX level types.
constexpr uint32_t kLevelTypeSmt = 1;
constexpr uint32_t kLevelTypeCore = 2;
constexpr uint32_t kLevelTypeShift = 8;

// Leaf 4 EAX: the threads sharing this cache, minus one; the cache level.
constexpr uint32_t kCacheSharingShift = 14;
constexpr uint32_t kCacheSharingMask = 0xfffu << kCacheSharingShift;
constexpr uint32_t kCacheLevelShift = 5;
constexpr uint32_t kCacheLevelMask = 0x7u;

void set_topology_level(kvm_cpuid_entry2& e, uint32_t apic_id, const CpuTopology& topology) {
    // Level 0 is SMT, level 1 the core level (everything in a package); EAX is how far
    // to shift the x2APIC id to get past the level's field, EBX its logical count.
    e.edx = apic_id;
    switch (e.index) {
        case 0:
            e.eax = topology.thread_bits();
            e.ebx = topology.threads;
            e.ecx = (kLevelTypeSmt << kLevelTypeShift) | 0;
            break;
        case 1:
            e.eax = topology.thread_bits() + topology.core_bits();
            e.ebx = topology.cores * topology.threads;
            e.ecx = (kLevelTypeCore << kLevelTypeShift) | 1;
            break;
        default:
            e.eax = 0;
            e.ebx = 0;
            e.ecx = e.index;
            break;
    }
}

// Leaf 4: the cores of a package, and who shares the cache: a core's threads for L1
// and L2, the whole package for L3 and beyond.
void set_cache_sharing(kvm_cpuid_entry2& e, const CpuTopology& topology) {
    const uint32_t level = (e.eax >> kCacheLevelShift) & kCacheLevelMask;
    const uint32_t sharing = level >= 3 ? topology.cores * topology.threads : topology.threads;
    e.eax = (e.eax & ~kCacheCoresMask & ~kCacheSharingMask) | ((topology.cores - 1u) << kCacheCoresShift) |
            ((sharing - 1u) << kCacheSharingShift);
}

}  // namespace

std::vector<kvm_cpuid_entry2> normalize_cpuid(std::vector<kvm_cpuid_entry2> entries, unsigned index,
                                              const CpuTopology& topology) {
    const uint32_t apic_id = topology.apic_id(index);
    const uint32_t per_package = topology.cores * topology.threads;
    // A topology leaf KVM offers must describe both levels and end with an invalid
    // one, whatever subleaves KVM listed (some list only the first): the guest walks
    // the subleaves until ECX's level type is 0.
    for (uint32_t topology_leaf : {leaf::kTopology, leaf::kTopologyV2}) {
        const auto has = [&](uint32_t index) {
            return std::any_of(entries.begin(), entries.end(), [&](const kvm_cpuid_entry2& e) {
                return e.function == topology_leaf && e.index == index;
            });
        };
        if (!has(0)) continue;
        for (uint32_t index = 1; index <= 2; ++index) {
            if (has(index)) continue;
            kvm_cpuid_entry2 level{};
            level.function = topology_leaf;
            level.index = index;
            level.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
            entries.push_back(level);
        }
    }
    for (auto& e : entries) {
        switch (e.function) {
            case leaf::kFeatures:
                e.ebx = (e.ebx & ~(0xffu << kEbxApicIdShift) & ~kEbxLogicalCountMask) | (apic_id << kEbxApicIdShift) |
                        (per_package << kEbxLogicalCountShift);
                e.ecx = (e.ecx | kEcxHypervisor) & ~(kEcxMonitor | kEcxVmx | kEcxEist | kEcxTm2 | kEcxPdcm);
                e.edx &= ~(kEdxAcpiThermal | kEdxTm);
                if (per_package > 1)
                    e.edx |= kEdxHtt;
                else
                    e.edx &= ~kEdxHtt;
                break;
            case leaf::kCacheParams:
                set_cache_sharing(e, topology);
                break;
            case leaf::kThermalPower:
            case leaf::kPerfMon:
                e.eax = e.ebx = e.ecx = e.edx = 0;
                break;
            case leaf::kTopology:
            case leaf::kTopologyV2:
                set_topology_level(e, apic_id, topology);
                break;
            case leaf::kExtFeatures:
                e.ecx &= ~kExtEcxSvm;
                break;
            default:
                break;
        }
    }
    return entries;
}

}  // namespace brig
