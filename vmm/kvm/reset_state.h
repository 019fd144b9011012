// What a reboot in place (--on-reboot restart) puts back: each vCPU's state, and the
// in-kernel PIC, IOAPIC and PIT, as brig left them just before the guest's first
// instruction. KVM has no "reset" ioctl, so brig captures that state at build time,
// on the main thread before any filter, and writes it back while every vCPU is paused,
// as firmware's reset vector would find the machine. Guest RAM is not touched.
#pragma once

#include <linux/kvm.h>

#include <memory>
#include <optional>

#include "vmm/kvm/kvm.h"

namespace brig {

class VcpuResetState {
public:
    // After the vCPU is fully configured (CPUID, MSRs, LAPIC, and the boot CPU's registers).
    static VcpuResetState capture(const Kvm& kvm, const VcpuFd& vcpu);
    // On the vCPU's own thread, while it is paused (brig_vcpu.policy allows the sets).
    void restore(const VcpuFd& vcpu) const;

private:
    kvm_regs regs_{};
    kvm_sregs sregs_{};
    kvm_fpu fpu_{};
    kvm_lapic_state lapic_{};
    kvm_mp_state mp_state_{};
    kvm_vcpu_events events_{};
    std::optional<kvm_debugregs> debugregs_;  // each optional one only where KVM has it
    std::optional<kvm_xcrs> xcrs_;
    std::shared_ptr<const kvm_xsave> xsave_;  // 4 KiB: on the heap
};

class VmResetState {
public:
    static VmResetState capture(const VmFd& vm);
    // On the supervisor's thread, with every vCPU paused (brig_main.policy allows it).
    void restore(const VmFd& vm) const;

private:
    kvm_irqchip pic_master_{};
    kvm_irqchip pic_slave_{};
    kvm_irqchip ioapic_{};
    kvm_pit_state2 pit_{};
};

}  // namespace brig
