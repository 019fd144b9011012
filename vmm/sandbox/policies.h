// The seccomp filters brig applies: one per device kind (policies/KIND_device.policy)
// and one per thread class of the VMM itself, like Firecracker's: the vCPU threads,
// the main (supervisor) thread, the IPC thread and the vsock broker thread.
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
    BpfProgram vsock;    // the vsock broker thread (--vsock)
    BpfProgram control;  // the control socket's thread (--socket)
};

// Throws InvalidArgument naming file:line:column for a bad policy.
BpfProgram compile_device_policy(const std::filesystem::path& dir, const std::string& kind);
VmmThreadFilters compile_vmm_policies(const std::filesystem::path& dir);

// --seccomp=log: the device's real policy, but what it refuses goes to brig's seccomp
// notifier (SECCOMP_RET_USER_NOTIF) instead of trapping.
BpfProgram compile_device_policy_notifying(const std::filesystem::path& dir, const std::string& kind);
// --seccomp=learn: no policy at all, every syscall goes to the notifier, except the
// one that hands the listener over: sendmsg on the device's report fd.
BpfProgram compile_learn_filter(int report_fd);

}  // namespace brig
