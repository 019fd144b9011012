// CPUID as the guest sees it: KVM's supported set, normalised per vCPU.
#pragma once

#include <linux/kvm.h>

#include <vector>

#include "vmm/board/cpu_topology.h"

namespace brig {

// Returns `supported` rewritten for vCPU `index` of `topology`: the topology leaves
// (leaf 1's APIC id and logical count per package, leaf 4's cores per package and
// threads per cache, leaf 0xB/0x1F's SMT and core levels with the x2APIC id), the
// hypervisor bit, and features brig does not emulate (monitor/mwait, thermal and
// power management, PMU, nested VMX/SVM) masked off so the guest never relies on them.
std::vector<kvm_cpuid_entry2> normalize_cpuid(std::vector<kvm_cpuid_entry2> supported, unsigned index,
                                              const CpuTopology& topology);
// `count` vCPUs of CpuTopology::flat(count).
inline std::vector<kvm_cpuid_entry2> normalize_cpuid(std::vector<kvm_cpuid_entry2> supported, unsigned index,
                                                     unsigned count) {
    return normalize_cpuid(std::move(supported), index, CpuTopology::flat(count));
}

}  // namespace brig
