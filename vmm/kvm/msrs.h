// Model-specific registers a Linux guest expects to find set at its first instruction.
#pragma once

#include <linux/kvm.h>

#include <vector>

namespace brig {

std::vector<kvm_msr_entry> boot_msrs();

}  // namespace brig
