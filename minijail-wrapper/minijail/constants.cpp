// The table of named constants a policy may use. Values come from the system
// headers, except the KVM ioctls whose structure ends in a flexible array (see below).
#include "minijail-wrapper/minijail/constants.h"

#include <asm/ioctls.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/memfd.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

namespace minijail {
namespace {

// Debian 12's <linux/kvm.h> declares the trailing arrays of kvm_msrs and kvm_cpuid2
// with __DECLARE_FLEX_ARRAY, which in C++ adds an empty struct member: sizeof() is
// then 12 instead of 8, and the size is part of the ioctl number. These headers have
// the C layout, so the numbers below are the ones KVM (and a C caller) use.
struct FlexHeader {
    uint32_t count;
    uint32_t padding;
};
static_assert(sizeof(FlexHeader) == 8);

#define C(name) \
    { #name, static_cast < uint64_t>(name) }

std::vector<std::pair<std::string_view, uint64_t>> build_table() {
    std::vector<std::pair<std::string_view, uint64_t>> t = {
        C(PROT_READ),
        C(PROT_WRITE),
        C(PROT_EXEC),
        C(PROT_NONE),
        C(MAP_SHARED),
        C(MAP_PRIVATE),
        C(MAP_ANONYMOUS),
        C(MAP_FIXED),
        C(MAP_FIXED_NOREPLACE),
        C(MAP_NORESERVE),
        C(MAP_STACK),
        C(MAP_POPULATE),
        C(O_RDONLY),
        C(O_WRONLY),
        C(O_RDWR),
        C(O_CLOEXEC),
        C(O_NONBLOCK),
        C(O_CREAT),
        C(O_TRUNC),
        C(O_APPEND),
        C(O_DIRECTORY),
        C(O_NOFOLLOW),
        C(O_PATH),
        C(O_EXCL),
        C(O_LARGEFILE),
        C(F_GETFD),
        C(F_SETFD),
        C(F_GETFL),
        C(F_SETFL),
        C(F_DUPFD),
        C(F_DUPFD_CLOEXEC),
        C(F_ADD_SEALS),
        C(F_GET_SEALS),
        C(F_SEAL_SEAL),
        C(F_SEAL_SHRINK),
        C(F_SEAL_GROW),
        C(F_SEAL_WRITE),
        C(FD_CLOEXEC),
        C(TCGETS),
        C(TCSETS),
        C(TIOCGPGRP),
        C(TIOCGWINSZ),
        C(FIONBIO),
        C(FIOCLEX),
        C(FIONCLEX),
        C(FIONREAD),
        C(TUNSETOFFLOAD),
        C(AF_UNIX),
        C(AF_INET),
        C(AF_INET6),
        C(AF_NETLINK),
        C(SOCK_STREAM),
        C(SOCK_DGRAM),
        C(SOCK_SEQPACKET),
        C(SOCK_CLOEXEC),
        C(SOCK_NONBLOCK),
        C(MSG_DONTWAIT),
        C(MSG_NOSIGNAL),
        C(MSG_CMSG_CLOEXEC),
        C(MSG_PEEK),
        C(MSG_WAITALL),
        C(MSG_TRUNC),
        C(SHUT_RD),
        C(SHUT_WR),
        C(SHUT_RDWR),
        C(EFD_CLOEXEC),
        C(EFD_NONBLOCK),
        C(EFD_SEMAPHORE),
        C(EPOLL_CLOEXEC),
        C(EPOLL_CTL_ADD),
        C(EPOLL_CTL_DEL),
        C(EPOLL_CTL_MOD),
        C(TFD_CLOEXEC),
        C(TFD_NONBLOCK),
        C(MFD_CLOEXEC),
        C(MFD_ALLOW_SEALING),
        C(FUTEX_WAIT),
        C(FUTEX_WAKE),
        C(FUTEX_PRIVATE_FLAG),
        C(FUTEX_CLOCK_REALTIME),
        C(FUTEX_WAIT_PRIVATE),
        C(FUTEX_WAKE_PRIVATE),
        C(FUTEX_WAIT_BITSET),
        C(FUTEX_WAKE_BITSET),
        C(FUTEX_WAIT_BITSET_PRIVATE),
        C(FUTEX_WAKE_BITSET_PRIVATE),
        C(FUTEX_REQUEUE),
        C(FUTEX_CMP_REQUEUE),
        C(FUTEX_CMP_REQUEUE_PRIVATE),
        C(FUTEX_LOCK_PI),
        C(FUTEX_UNLOCK_PI),
        C(FUTEX_LOCK_PI_PRIVATE),
        C(FUTEX_UNLOCK_PI_PRIVATE),
        C(CLOCK_MONOTONIC),
        C(CLOCK_REALTIME),
        C(CLOCK_BOOTTIME),
        C(CLOCK_MONOTONIC_RAW),
        C(CLOCK_MONOTONIC_COARSE),
        C(CLOCK_REALTIME_COARSE),
        C(CLOCK_PROCESS_CPUTIME_ID),
        C(CLOCK_THREAD_CPUTIME_ID),
        C(PR_SET_NAME),
        C(PR_GET_NAME),
        C(PR_SET_NO_NEW_PRIVS),
        C(PR_SET_PDEATHSIG),
        C(PR_GET_PDEATHSIG),
        C(PR_SET_DUMPABLE),
        C(PR_GET_DUMPABLE),
        C(SIG_BLOCK),
        C(SIG_UNBLOCK),
        C(SIG_SETMASK),
        C(CLONE_VM),
        C(CLONE_FS),
        C(CLONE_FILES),
        C(CLONE_SIGHAND),
        C(CLONE_THREAD),
        C(CLONE_SYSVSEM),
        C(CLONE_SETTLS),
        C(CLONE_PARENT_SETTID),
        C(CLONE_CHILD_CLEARTID),
        C(CLONE_CHILD_SETTID),
        C(MADV_DONTNEED),
        C(MADV_DONTDUMP),
        C(MADV_WILLNEED),
        C(MADV_FREE),
        C(MADV_REMOVE),
        C(MADV_HUGEPAGE),
        C(MADV_NOHUGEPAGE),
        C(MADV_DODUMP),
        // KVM: structures of fixed size, so <linux/kvm.h> is right.
        C(SECCOMP_IOCTL_NOTIF_RECV),
        C(SECCOMP_IOCTL_NOTIF_SEND),
        C(SECCOMP_IOCTL_NOTIF_ID_VALID),
        C(KVM_GET_API_VERSION),
        C(KVM_CREATE_VM),
        C(KVM_CHECK_EXTENSION),
        C(KVM_GET_VCPU_MMAP_SIZE),
        C(KVM_CREATE_VCPU),
        C(KVM_RUN),
        C(KVM_GET_REGS),
        C(KVM_SET_REGS),
        C(KVM_GET_SREGS),
        C(KVM_SET_SREGS),
        C(KVM_TRANSLATE),
        C(KVM_IRQ_LINE),
        C(KVM_IOEVENTFD),
        C(KVM_IRQFD),
        C(KVM_SET_USER_MEMORY_REGION),
        C(KVM_GET_LAPIC),
        C(KVM_SET_LAPIC),
        C(KVM_GET_FPU),
        C(KVM_SET_FPU),
        C(KVM_CREATE_IRQCHIP),
        C(KVM_SET_TSS_ADDR),
        C(KVM_SET_IDENTITY_MAP_ADDR),
        C(KVM_GET_MP_STATE),
        C(KVM_SET_MP_STATE),
        C(KVM_SIGNAL_MSI),
        C(KVM_GET_VCPU_EVENTS),
        C(KVM_SET_VCPU_EVENTS),
        C(KVM_GET_DEBUGREGS),
        C(KVM_SET_DEBUGREGS),
        C(KVM_GET_XCRS),
        C(KVM_SET_XCRS),
        C(KVM_GET_XSAVE),
        C(KVM_SET_XSAVE),
        C(KVM_GET_IRQCHIP),
        C(KVM_SET_IRQCHIP),
        C(KVM_GET_PIT2),
        C(KVM_SET_PIT2),
        // KVM: structures ending in a flexible array; C layout (8-byte header).
        {"KVM_GET_MSRS", _IOWR(KVMIO, 0x88, FlexHeader)},
        {"KVM_SET_MSRS", _IOW(KVMIO, 0x89, FlexHeader)},
        {"KVM_SET_CPUID2", _IOW(KVMIO, 0x90, FlexHeader)},
        {"KVM_GET_CPUID2", _IOWR(KVMIO, 0x91, FlexHeader)},
        {"KVM_GET_SUPPORTED_CPUID", _IOWR(KVMIO, 0x05, FlexHeader)},
    };
    std::sort(t.begin(), t.end());
    return t;
}

#undef C

}  // namespace

const std::vector<std::pair<std::string_view, uint64_t>>& constant_table() {
    // Function-local statics only: this code may run from a constructor in another
    // translation unit (the jail test helper), before namespace-scope objects exist.
    static const auto table = build_table();
    return table;
}

std::optional<uint64_t> lookup_constant(std::string_view name) {
    const auto& t = constant_table();
    auto it = std::lower_bound(t.begin(), t.end(), name,
                               [](const auto& entry, std::string_view n) { return entry.first < n; });
    if (it == t.end() || it->first != name) return std::nullopt;
    return it->second;
}

std::optional<int> lookup_errno(std::string_view name) {
    static const auto table = [] {
        std::unordered_map<std::string, int> m;
        for (int e = 1; e < 4096; ++e)
            if (const char* n = strerrorname_np(e)) m.emplace(n, e);
        return m;
    }();
    auto it = table.find(std::string(name));
    if (it == table.end()) return std::nullopt;
    return it->second;
}

}  // namespace minijail
