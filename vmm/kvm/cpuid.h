// CPUID as the guest sees it: KVM's supported set, normalised per vCPU.
#pragma once

#include <linux/kvm.h>

#include <vector>

namespace brig {

// Returns `supported` rewritten for vCPU `index` of `count`: topology leaves (APIC id,
// logical count, leaf 4 cores, leaf 0xB/0x1F levels), the hypervisor bit, and features
// brig does not emulate (monitor/mwait, thermal and power management, PMU, nested VMX/SVM)
// masked off so the guest never relies on them.
std::vector<kvm_cpuid_entry2> normalize_cpuid(std::vector<kvm_cpuid_entry2> supported, unsigned index, unsigned count);

}  // namespace brig
