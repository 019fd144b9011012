#include "vmm/kvm/cpuid.h"

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

void set_topology_level(kvm_cpuid_entry2& e, unsigned index, unsigned count) {
    // One thread per core, `count` cores in one package: level 0 is SMT (width 0),
    // level 1 is the core level, everything above is invalid.
    const uint32_t core_shift = count <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(count - 1u));
    e.edx = index;  // x2APIC id
    switch (e.index) {
        case 0:
            e.eax = 0;
            e.ebx = 1;
            e.ecx = (kLevelTypeSmt << kLevelTypeShift) | 0;
            break;
        case 1:
            e.eax = core_shift;
            e.ebx = count;
            e.ecx = (kLevelTypeCore << kLevelTypeShift) | 1;
            break;
        default:
            e.eax = 0;
            e.ebx = 0;
            e.ecx = e.index;
            break;
    }
}

}  // namespace

std::vector<kvm_cpuid_entry2> normalize_cpuid(std::vector<kvm_cpuid_entry2> entries, unsigned index, unsigned count) {
    for (auto& e : entries) {
        switch (e.function) {
            case leaf::kFeatures:
                e.ebx = (e.ebx & ~(0xffu << kEbxApicIdShift) & ~kEbxLogicalCountMask) | (index << kEbxApicIdShift) |
                        (count << kEbxLogicalCountShift);
                e.ecx = (e.ecx | kEcxHypervisor) & ~(kEcxMonitor | kEcxVmx | kEcxEist | kEcxTm2 | kEcxPdcm);
                e.edx &= ~(kEdxAcpiThermal | kEdxTm);
                if (count > 1)
                    e.edx |= kEdxHtt;
                else
                    e.edx &= ~kEdxHtt;
                break;
            case leaf::kCacheParams:
                e.eax = (e.eax & ~kCacheCoresMask) | ((count - 1u) << kCacheCoresShift);
                break;
            case leaf::kThermalPower:
            case leaf::kPerfMon:
                e.eax = e.ebx = e.ecx = e.edx = 0;
                break;
            case leaf::kTopology:
            case leaf::kTopologyV2:
                set_topology_level(e, index, count);
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
