// Turns one KVM_RUN exit into either "keep running" or a reason to stop the VM.
#pragma once

#include <functional>
#include <optional>

#include "vmm/board/stop_reason.h"
#include "vmm/bus/bus.h"
#include "vmm/kvm/kvm.h"
#include "vmm/memory/guest_memory.h"

namespace brig {

struct VcpuExitContext {
    const Bus& pio;
    const Bus& mmio;
    const GuestMemory& memory;
};

// Dispatches the exit in `vcpu.run_area()`. Returns a stop reason when this exit ends
// the run (power off, reset, triple fault, KVM failure), nothing to keep going.
std::optional<StopReason> handle_vcpu_exit(const VcpuFd& vcpu, const VcpuExitContext& ctx);

// "RIP 0x... bytes: 0f 0b ..." for failure reports; best effort, never throws.
std::string describe_guest_instruction(const VcpuFd& vcpu, const GuestMemory& memory);

}  // namespace brig
