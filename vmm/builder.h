// Builds a VM ready to boot, paused: one linear recipe of named steps (see builder.cpp).
#pragma once

#include <memory>

#include "vmm/cli/cli.h"
#include "vmm/vm.h"

namespace brig {

std::unique_ptr<Vm> build_vm(const RunOptions& options);

// A reboot in place (--on-reboot restart), with every vCPU paused: the ACPI tables,
// kernel, initrd, command line and boot CPU tables written into guest memory again,
// by the same steps as the first boot, from the files opened then.
void reload_boot_images(const Vm& vm);

}  // namespace brig
