// Builds a VM ready to boot, paused: one linear recipe of named steps (see builder.cpp).
#pragma once

#include <memory>

#include "cli/cli.h"
#include "vm.h"

namespace brig {

// `forward_stdin`: the serial console reads the guest's input from brig's stdin.
std::unique_ptr<Vm> build_vm(const RunOptions& options, bool forward_stdin);

}  // namespace brig
