#include "vmm/kvm/reset_state.h"

#include <cstdint>

#include "vmm/kvm/msrs.h"

namespace brig {
namespace {

// Paravirtual MSRs a Linux guest turns on, in which KVM keeps guest addresses it
// writes to (the kvmclock page, steal time, async page faults, PV EOI). Left on
// across a reset, KVM would go on writing the last boot's structures into memory the
// next boot owns, so they go back to 0 (off). A kernel without one refuses its write:
// then there is nothing to turn off.
constexpr uint32_t kParavirtMsrs[] = {
    0x11,        // MSR_KVM_WALL_CLOCK
    0x12,        // MSR_KVM_SYSTEM_TIME
    0x4b564d00,  // MSR_KVM_WALL_CLOCK_NEW
    0x4b564d01,  // MSR_KVM_SYSTEM_TIME_NEW
    0x4b564d02,  // MSR_KVM_ASYNC_PF_EN
    0x4b564d03,  // MSR_KVM_STEAL_TIME
    0x4b564d04,  // MSR_KVM_PV_EOI_EN
};

}  // namespace

VcpuResetState VcpuResetState::capture(const Kvm& kvm, const VcpuFd& vcpu) {
    VcpuResetState s;
    s.regs_ = vcpu.get_regs();
    s.sregs_ = vcpu.get_sregs();
    s.fpu_ = vcpu.get_fpu();
    s.lapic_ = vcpu.get_lapic();
    s.mp_state_ = vcpu.get_mp_state();
    s.events_ = vcpu.get_vcpu_events();
    if (kvm.check_extension(KVM_CAP_DEBUGREGS) > 0) s.debugregs_ = vcpu.get_debugregs();
    if (kvm.check_extension(KVM_CAP_XCRS) > 0) s.xcrs_ = vcpu.get_xcrs();
    if (kvm.check_extension(KVM_CAP_XSAVE) > 0) {
        try {
            s.xsave_ = std::make_shared<const kvm_xsave>(vcpu.get_xsave());
        } catch (const std::exception&) {
            // kvm_pvm offers the capability and refuses the call: the legacy FPU state
            // (KVM_SET_FPU) is all that goes back then.
        }
    }
    return s;
}

void VcpuResetState::restore(const VcpuFd& vcpu) const {
    // XCR0 before the extended state it enables; the APIC base (in sregs) before the
    // LAPIC registers, so they are read in the mode they were saved in.
    if (xcrs_) vcpu.set_xcrs(*xcrs_);
    if (xsave_)
        vcpu.set_xsave(*xsave_);
    else
        vcpu.set_fpu(fpu_);
    vcpu.set_sregs(sregs_);
    vcpu.set_regs(regs_);
    vcpu.set_msrs(boot_msrs());
    for (uint32_t index : kParavirtMsrs) {
        kvm_msr_entry off{};
        off.index = index;
        try {
            vcpu.set_msrs({&off, 1});
        } catch (const std::exception&) {
            // Not an MSR this KVM has: nothing of it to turn off.
        }
    }
    vcpu.set_lapic(lapic_);
    if (debugregs_) vcpu.set_debugregs(*debugregs_);
    // Pending exceptions, NMIs and interrupts of the last boot are dropped; an AP goes
    // back to waiting for INIT/SIPI.
    vcpu.set_vcpu_events(events_);
    vcpu.set_mp_state(mp_state_);
}

VmResetState VmResetState::capture(const VmFd& vm) {
    VmResetState s;
    s.pic_master_ = vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER);
    s.pic_slave_ = vm.get_irqchip(KVM_IRQCHIP_PIC_SLAVE);
    s.ioapic_ = vm.get_irqchip(KVM_IRQCHIP_IOAPIC);
    s.pit_ = vm.get_pit2();
    return s;
}

void VmResetState::restore(const VmFd& vm) const {
    vm.set_irqchip(pic_master_);
    vm.set_irqchip(pic_slave_);
    vm.set_irqchip(ioapic_);
    vm.set_pit2(pit_);
}

}  // namespace brig
