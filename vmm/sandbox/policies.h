// The seccomp filters brig applies: one per device kind (policies/KIND_device.policy)
// and one per thread class of the VMM itself, like Firecracker's: the vCPU threads,
// the main (supervisor) thread and the IPC thread.
#pragma once

#include <linux/filter.h>

#include <filesystem>
#include <string>
#include <vector>

namespace brig {

using BpfProgram = std::vector<sock_filter>;

struct VmmThreadFilters {
    BpfProgram vcpu;
    BpfProgram main;
    BpfProgram ipc;
};

// Throws InvalidArgument naming file:line:column for a bad policy.
BpfProgram compile_device_policy(const std::filesystem::path& dir, const std::string& kind);
VmmThreadFilters compile_vmm_policies(const std::filesystem::path& dir);

}  // namespace brig
