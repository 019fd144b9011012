// Builds a VM ready to boot, paused: one linear recipe of named steps (see builder.cpp).
#pragma once

#include <memory>

#include "vmm/cli/cli.h"
#include "vmm/vm.h"

namespace brig {

std::unique_ptr<Vm> build_vm(const RunOptions& options);

}  // namespace brig
