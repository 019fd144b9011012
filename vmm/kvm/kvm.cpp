#include "vmm/kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "base/error.h"
#include "vmm/error.h"
#include "vmm/kvm/kvm_abi.h"

namespace brig {
namespace {

struct RequiredCap {
    long cap;
    const char* name;
};

// Everything brig relies on, checked up front so a host that lacks one fails in one line.
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
};

template <typename Arg>
int checked_ioctl(int fd, unsigned long request, Arg arg, const char* what) {
    int ret;
    do {
        ret = ioctl(fd, request, arg);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) base::throw_errno(what);
    return ret;
}

}  // namespace

Kvm Kvm::open() {
    base::UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw HostError("/dev/kvm does not exist: KVM is not available on this host");
        if (errno == EACCES) throw HostError("/dev/kvm: permission denied (run as root or join the kvm group)");
        base::throw_errno("open /dev/kvm");
    }
    const int version = ioctl(fd.get(), KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        throw HostError("/dev/kvm: API version " + std::to_string(version) + ", brig needs " +
                        std::to_string(KVM_API_VERSION));
    Kvm kvm(std::move(fd));
    for (const auto& req : kRequiredCaps) {
        if (kvm.check_extension(req.cap) <= 0) throw HostError(std::string("/dev/kvm lacks ") + req.name);
    }
    return kvm;
}

int Kvm::check_extension(long cap) const { return ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap); }

int Kvm::vcpu_mmap_size() const {
    return checked_ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
}

std::vector<kvm_cpuid_entry2> Kvm::supported_cpuid() const {
    // Grow until KVM stops answering E2BIG.
    for (size_t n = 64;; n *= 2) {
        auto buf = kvm_abi::FlexBuffer<kvm_abi::Cpuid2Header, kvm_cpuid_entry2>(n);
        buf.header()->nent = static_cast<uint32_t>(n);
        if (ioctl(fd_.get(), kvm_abi::kGetSupportedCpuid, buf.header()) == 0) {
            const auto* entries = buf.entries();
            return {entries, entries + std::min<size_t>(buf.header()->nent, n)};
        }
        if (errno != E2BIG || n > 4096) base::throw_errno("KVM_GET_SUPPORTED_CPUID");
    }
}

VmFd VmFd::create(const Kvm& kvm) {
    int fd;
    do {
        fd = ioctl(kvm.fd(), KVM_CREATE_VM, 0);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) base::throw_errno("KVM_CREATE_VM");
    return VmFd(base::UniqueFd(fd));
}

void VmFd::set_tss_address(uint64_t addr) const {
    checked_ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr), "KVM_SET_TSS_ADDR");
}

void VmFd::set_identity_map_address(uint64_t addr) const {
    uint64_t a = addr;
    checked_ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &a, "KVM_SET_IDENTITY_MAP_ADDR");
}

void VmFd::create_irqchip() const { checked_ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP"); }

void VmFd::create_pit() const {
    kvm_pit_config config{};
    // The PIT's speaker port 0x61 is emulated in the kernel too, so guests can calibrate.
    config.flags = KVM_PIT_SPEAKER_DUMMY;
    checked_ioctl(fd_.get(), KVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2");
}

void VmFd::set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host) const {
    kvm_userspace_memory_region region{};
    region.slot = slot;
    region.guest_phys_addr = guest_addr;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

void VmFd::register_irqfd(int eventfd, uint32_t gsi) const {
    kvm_irqfd irqfd{};
    irqfd.fd = static_cast<uint32_t>(eventfd);
    irqfd.gsi = gsi;
    checked_ioctl(fd_.get(), KVM_IRQFD, &irqfd, "KVM_IRQFD");
}

void VmFd::register_ioeventfd(int eventfd, uint64_t addr, uint32_t datamatch) const {
    kvm_ioeventfd ioeventfd{};
    ioeventfd.datamatch = datamatch;
    ioeventfd.addr = addr;
    ioeventfd.len = 4;
    ioeventfd.fd = eventfd;
    ioeventfd.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
    checked_ioctl(fd_.get(), KVM_IOEVENTFD, &ioeventfd, "KVM_IOEVENTFD");
}

kvm_irqchip VmFd::get_irqchip(uint32_t chip_id) const {
    kvm_irqchip chip{};
    chip.chip_id = chip_id;
    checked_ioctl(fd_.get(), KVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP");
    return chip;
}
void VmFd::set_irqchip(const kvm_irqchip& chip) const {
    checked_ioctl(fd_.get(), KVM_SET_IRQCHIP, const_cast<kvm_irqchip*>(&chip), "KVM_SET_IRQCHIP");
}
kvm_pit_state2 VmFd::get_pit2() const {
    kvm_pit_state2 pit{};
    checked_ioctl(fd_.get(), KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
    return pit;
}
void VmFd::set_pit2(const kvm_pit_state2& pit) const {
    checked_ioctl(fd_.get(), KVM_SET_PIT2, const_cast<kvm_pit_state2*>(&pit), "KVM_SET_PIT2");
}

VcpuFd VcpuFd::create(const Kvm& kvm, const VmFd& vm, unsigned index, uint32_t apic_id) {
    int raw;
    do {
        // KVM's vCPU id is the LAPIC's id at reset; 0 is the boot CPU.
        raw = ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(apic_id));
    } while (raw < 0 && errno == EINTR);
    if (raw < 0) base::throw_errno("KVM_CREATE_VCPU " + std::to_string(index));
    base::UniqueFd fd(raw);
    const size_t size = static_cast<size_t>(kvm.vcpu_mmap_size());
    void* run = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (run == MAP_FAILED) base::throw_errno("mmap kvm_run of vCPU " + std::to_string(index));
    return VcpuFd(std::move(fd), index, static_cast<kvm_run*>(run), size);
}

VcpuFd::VcpuFd(VcpuFd&& other) noexcept
    : fd_(std::move(other.fd_)),
      index_(other.index_),
      run_(std::exchange(other.run_, nullptr)),
      run_size_(other.run_size_) {}

VcpuFd::~VcpuFd() {
    if (run_) munmap(run_, run_size_);
}

bool VcpuFd::run() const {
    if (ioctl(fd_.get(), KVM_RUN, 0) == 0) return true;
    if (errno == EINTR || errno == EAGAIN) return false;
    base::throw_errno("KVM_RUN on vCPU " + std::to_string(index_));
}

kvm_regs VcpuFd::get_regs() const {
    kvm_regs regs{};
    checked_ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS");
    return regs;
}
void VcpuFd::set_regs(const kvm_regs& regs) const { checked_ioctl(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS"); }
kvm_sregs VcpuFd::get_sregs() const {
    kvm_sregs sregs{};
    checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    return sregs;
}
void VcpuFd::set_sregs(const kvm_sregs& sregs) const {
    checked_ioctl(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}
kvm_fpu VcpuFd::get_fpu() const {
    kvm_fpu fpu{};
    checked_ioctl(fd_.get(), KVM_GET_FPU, &fpu, "KVM_GET_FPU");
    return fpu;
}
void VcpuFd::set_fpu(const kvm_fpu& fpu) const { checked_ioctl(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU"); }

// The get/set pairs of fixed-size vCPU state, each one ioctl each way.
#define BRIG_VCPU_STATE(type, getter, setter, get_ioctl, set_ioctl)                 \
    type VcpuFd::getter() const {                                                   \
        type value{};                                                               \
        checked_ioctl(fd_.get(), get_ioctl, &value, #get_ioctl);                    \
        return value;                                                               \
    }                                                                               \
    void VcpuFd::setter(const type& value) const {                                  \
        checked_ioctl(fd_.get(), set_ioctl, const_cast<type*>(&value), #set_ioctl); \
    }
BRIG_VCPU_STATE(kvm_mp_state, get_mp_state, set_mp_state, KVM_GET_MP_STATE, KVM_SET_MP_STATE)
BRIG_VCPU_STATE(kvm_vcpu_events, get_vcpu_events, set_vcpu_events, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS)
BRIG_VCPU_STATE(kvm_debugregs, get_debugregs, set_debugregs, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS)
BRIG_VCPU_STATE(kvm_xcrs, get_xcrs, set_xcrs, KVM_GET_XCRS, KVM_SET_XCRS)
BRIG_VCPU_STATE(kvm_xsave, get_xsave, set_xsave, KVM_GET_XSAVE, KVM_SET_XSAVE)
#undef BRIG_VCPU_STATE

void VcpuFd::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const {
    auto buf = kvm_abi::FlexBuffer<kvm_abi::Cpuid2Header, kvm_cpuid_entry2>(entries);
    buf.header()->nent = static_cast<uint32_t>(entries.size());
    checked_ioctl(fd_.get(), kvm_abi::kSetCpuid2, buf.header(), "KVM_SET_CPUID2");
}

void VcpuFd::set_msrs(std::span<const kvm_msr_entry> entries) const {
    auto buf = kvm_abi::FlexBuffer<kvm_abi::MsrsHeader, kvm_msr_entry>(entries);
    buf.header()->nmsrs = static_cast<uint32_t>(entries.size());
    const int set = checked_ioctl(fd_.get(), kvm_abi::kSetMsrs, buf.header(), "KVM_SET_MSRS");
    // KVM_SET_MSRS returns how many it set and stops at the first it refuses.
    if (static_cast<size_t>(set) != entries.size())
        throw HostError("KVM_SET_MSRS: KVM refused MSR 0x" + [&] {
            char hex[16];
            std::snprintf(hex, sizeof hex, "%x", entries[static_cast<size_t>(set)].index);
            return std::string(hex);
        }());
}

kvm_lapic_state VcpuFd::get_lapic() const {
    kvm_lapic_state lapic{};
    checked_ioctl(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
    return lapic;
}
void VcpuFd::set_lapic(const kvm_lapic_state& lapic) const {
    checked_ioctl(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

}  // namespace brig
