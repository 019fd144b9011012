#include "vmm/sandbox/vmm_sigsys.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <string>

#include "base/error.h"
#include "base/signal_safe.h"
#include "vmm/exit_report.h"
#include "minijail-wrapper/minijail/policy.h"

namespace brig {
namespace {

constexpr size_t kMaxSyscall = 512;
constexpr size_t kNameLength = 32;
std::array<std::array<char, kNameLength>, kMaxSyscall> g_names{};
thread_local const char* t_thread_class = "unfiltered";
std::atomic<bool> g_main_filtered{false};
std::atomic<bool> g_ipc_filtered{false};

void on_sigsys(int, siginfo_t* info, void* context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    const greg_t* r = uc->uc_mcontext.gregs;
    // Only syscalls every brig filter allows (write, gettid) may run here: the line on
    // stderr and the record in --failure-file (opened at start) are plain writes.
    base::SignalSafeText<24> tid;
    tid.append_signed(syscall(SYS_gettid));
    const int nr = info->si_syscall;
    const char* name =
        nr >= 0 && static_cast<size_t>(nr) < kMaxSyscall ? g_names[static_cast<size_t>(nr)].data() : "unknown";
    exit_report::finish_from_signal_handler(
        "INTERNAL_ERROR", {"seccomp: blocked syscall ", name, " in ", t_thread_class, " thread ", tid.c_str()},
        {"signal=SIGSYS syscall=", name, " thread=", t_thread_class});
    // Trap again with SIGSYS blocked: the kernel resets it to SIG_DFL and kills brig.
    syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
    _exit(128 + SIGSYS);
}

}  // namespace

void install_vmm_sigsys_reporter() {
    for (size_t nr = 0; nr < kMaxSyscall; ++nr) {
        const std::string name = minijail::syscall_name(static_cast<int>(nr));
        std::strncpy(g_names[nr].data(), name.c_str(), kNameLength - 1);
    }
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, nullptr) != 0) base::throw_errno("sigaction(SIGSYS)");
}

void install_thread_filter(const char* thread_class, const std::vector<sock_filter>& filter) {
    t_thread_class = thread_class;
    minijail::install_filter(filter, /*tsync=*/false);
    if (std::strcmp(thread_class, "main") == 0) g_main_filtered = true;
    if (std::strcmp(thread_class, "ipc") == 0) g_ipc_filtered = true;
}

bool supervisor_threads_filtered() { return g_main_filtered && g_ipc_filtered; }

}  // namespace brig
