// RAII wrappers for the three kinds of KVM file descriptor: the system (/dev/kvm),
// the VM and the vCPU. Every ioctl failure becomes a HostError naming the ioctl.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "base/unique_fd.h"

namespace brig {

class Kvm {
public:
    // Opens /dev/kvm and checks the API version and every capability brig relies on.
    static Kvm open();

    int fd() const { return fd_.get(); }
    int check_extension(long cap) const;
    int vcpu_mmap_size() const;
    std::vector<kvm_cpuid_entry2> supported_cpuid() const;

private:
    explicit Kvm(base::UniqueFd fd) : fd_(std::move(fd)) {}
    base::UniqueFd fd_;
};

class VmFd {
public:
    static VmFd create(const Kvm& kvm);

    int fd() const { return fd_.get(); }
    void set_tss_address(uint64_t addr) const;
    void set_identity_map_address(uint64_t addr) const;
    void create_irqchip() const;
    void create_pit() const;
    void set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host) const;
    // Makes KVM inject `gsi` whenever `eventfd` is written (edge semantics).
    void register_irqfd(int eventfd, uint32_t gsi) const;
    // Makes a guest write of `datamatch` (4 bytes) to MMIO `addr` signal `eventfd` inside
    // KVM, without a VM exit to user space: a virtio queue notify.
    void register_ioeventfd(int eventfd, uint64_t addr, uint32_t datamatch) const;
    // The in-kernel PIC (chip 0 master, 1 slave) and IOAPIC (2), and the PIT: read at
    // build time and written back on a reboot in place (kvm/reset_state.h).
    kvm_irqchip get_irqchip(uint32_t chip_id) const;
    void set_irqchip(const kvm_irqchip& chip) const;
    kvm_pit_state2 get_pit2() const;
    void set_pit2(const kvm_pit_state2& pit) const;

private:
    explicit VmFd(base::UniqueFd fd) : fd_(std::move(fd)) {}
    base::UniqueFd fd_;
};

class VcpuFd {
public:
    // vCPU `index` (brig's numbering, in names and --cpu-affinity) with `apic_id` as
    // KVM's vCPU id, which KVM makes its APIC id (board/cpu_topology.h).
    static VcpuFd create(const Kvm& kvm, const VmFd& vm, unsigned index, uint32_t apic_id);
    VcpuFd(VcpuFd&&) noexcept;
    VcpuFd& operator=(VcpuFd&&) = delete;
    VcpuFd(const VcpuFd&) = delete;
    ~VcpuFd();

    int fd() const { return fd_.get(); }
    unsigned index() const { return index_; }
    kvm_run* run_area() const { return run_; }

    // KVM_RUN. Returns false when interrupted by a signal (EINTR) or immediate_exit (EAGAIN/EINTR).
    bool run() const;

    kvm_regs get_regs() const;
    void set_regs(const kvm_regs& regs) const;
    kvm_sregs get_sregs() const;
    void set_sregs(const kvm_sregs& sregs) const;
    kvm_fpu get_fpu() const;
    void set_fpu(const kvm_fpu& fpu) const;
    kvm_mp_state get_mp_state() const;
    void set_mp_state(const kvm_mp_state& state) const;
    kvm_vcpu_events get_vcpu_events() const;
    void set_vcpu_events(const kvm_vcpu_events& events) const;
    kvm_debugregs get_debugregs() const;
    void set_debugregs(const kvm_debugregs& regs) const;
    kvm_xcrs get_xcrs() const;
    void set_xcrs(const kvm_xcrs& xcrs) const;
    kvm_xsave get_xsave() const;
    void set_xsave(const kvm_xsave& xsave) const;
    void set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;
    void set_msrs(std::span<const kvm_msr_entry> entries) const;
    kvm_lapic_state get_lapic() const;
    void set_lapic(const kvm_lapic_state& lapic) const;

private:
    VcpuFd(base::UniqueFd fd, unsigned index, kvm_run* run, size_t run_size)
        : fd_(std::move(fd)), index_(index), run_(run), run_size_(run_size) {}
    base::UniqueFd fd_;
    unsigned index_;
    kvm_run* run_;
    size_t run_size_;
};

}  // namespace brig
