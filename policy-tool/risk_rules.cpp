#include "policy-tool/risk_rules.h"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace brig::policy_tool {

std::string_view to_string(Risk risk) {
    switch (risk) {
        case Risk::Low:
            return "low";
        case Risk::Medium:
            return "medium";
        case Risk::High:
            return "high";
    }
    return "?";
}

namespace {

using minijail::Clause;
using minijail::CmpOp;
using minijail::SyscallRule;

// What, in a rule's conditions, lowers a syscall's risk.
enum class Guard {
    None,         // nothing does
    PinnedArg,    // every clause requires argN == VALUE (ioctl request, socket family)
    ThreadsOnly,  // every clause requires CLONE_THREAD in arg0: only threads, no processes
    NoProtExec,   // every clause keeps PROT_EXEC out of argN
};

constexpr Risk H = Risk::High, M = Risk::Medium, L = Risk::Low;

struct RiskRule {
    std::string_view syscalls;  // space-separated
    Risk device;                // unguarded, in a device process
    Risk thread;                // unguarded, in a thread of brig
    Guard guard;
    int arg;       // for PinnedArg and NoProtExec
    Risk guarded;  // when the guard holds
    std::string_view why;
};

// clang-format off
const RiskRule kRules[] = {
// syscalls                                   device thread guard               arg guarded why
{"execve execveat",                           H, H, Guard::None,        0, H, "runs another program"},
{"ptrace",                                    H, H, Guard::None,        0, H, "controls and reads other processes"},
{"process_vm_readv process_vm_writev",        H, H, Guard::None,        0, H, "reads or writes another process's memory"},
{"pidfd_getfd",                               H, H, Guard::None,        0, H, "copies an fd out of another process"},
{"mount umount2 pivot_root chroot",           H, H, Guard::None,        0, H, "changes the filesystem view"},
{"setns unshare",                             H, H, Guard::None,        0, H, "enters or creates namespaces"},
{"clone",                                     H, H, Guard::ThreadsOnly, 0, L, "creates processes and namespaces unless arg0 pins a thread without CLONE_NEW* flags"},
{"clone3",                                    H, H, Guard::None,        0, H, "its flags are in memory, out of seccomp's reach (only `return ENOSYS` is safe)"},
{"bpf",                                       H, H, Guard::None,        0, H, "loads programs into the kernel"},
{"perf_event_open",                           H, H, Guard::None,        0, H, "large kernel attack surface, observes other code"},
{"keyctl add_key request_key",                H, H, Guard::None,        0, H, "the kernel keyrings: not namespaced, a frequent CVE source"},
{"init_module finit_module delete_module",    H, H, Guard::None,        0, H, "loads or removes kernel modules"},
{"kexec_load kexec_file_load",                H, H, Guard::None,        0, H, "replaces the running kernel"},
{"open_by_handle_at",                         H, H, Guard::None,        0, H, "opens files by handle, past mount namespaces and roots"},
{"userfaultfd",                               H, H, Guard::None,        0, H, "stalls the kernel at chosen points (an exploitation aid)"},
{"socket socketpair connect",                 H, H, Guard::PinnedArg,   0, M, "network access unless arg0 (address family) is pinned"},
{"ioctl",                                     H, H, Guard::PinnedArg,   1, M, "every driver's multiplexer unless arg1 (request) is pinned"},
{"mmap mprotect pkey_mprotect",               H, H, Guard::NoProtExec,  2, L, "executable memory unless arg2 excludes PROT_EXEC"},
{"personality",                               H, H, Guard::None,        0, H, "changes the execution domain (READ_IMPLIES_EXEC)"},
{"modify_ldt",                                H, H, Guard::None,        0, H, "16-bit segments: old, rarely used kernel code"},
{"open openat openat2",                       H, M, Guard::None,        0, H, "opens files by path (a device is handed its fds)"},
{"fcntl",                                     M, M, Guard::None,        0, M, "fd multiplexer: locks, leases, owners, pipe sizes"},
{"prctl",                                     M, M, Guard::None,        0, M, "process attribute multiplexer"},
{"kill tkill tgkill pidfd_send_signal rt_sigqueueinfo rt_tgsigqueueinfo",
                                              M, M, Guard::None,        0, M, "signals other processes or threads"},
{"fork vfork",                                M, M, Guard::None,        0, M, "creates processes"},
{"setuid setgid setreuid setregid setresuid setresgid setgroups setfsuid setfsgid capset",
                                              M, M, Guard::None,        0, M, "changes credentials"},
};
// clang-format on

const RiskRule* find_rule(std::string_view syscall) {
    for (const auto& r : kRules) {
        std::string_view list = r.syscalls;
        while (!list.empty()) {
            size_t space = list.find(' ');
            std::string_view word = list.substr(0, space);
            if (word == syscall) return &r;
            if (space == std::string_view::npos) break;
            list.remove_prefix(space + 1);
        }
    }
    return nullptr;
}

bool pins(const Clause& clause, int arg) {
    return std::any_of(clause.begin(), clause.end(), [&](const auto& c) { return c.arg == arg && c.op == CmpOp::Eq; });
}

// Every value the comparison lets through has `bit` set.
// Every flag that makes clone() create a namespace.
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                          CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;

bool forces_set(const minijail::Comparison& c, uint64_t bit) {
    if (c.op == CmpOp::Eq) return (c.value & bit) != 0;
    if (c.op == CmpOp::AnyBits) return c.value != 0 && (c.value & ~bit) == 0;
    return false;
}

// Every value the comparison lets through has `bit` clear.
bool forces_clear(const minijail::Comparison& c, uint64_t bit) {
    switch (c.op) {
        case CmpOp::Eq:
            return (c.value & bit) == 0;
        case CmpOp::In:
            return (c.value & bit) == 0;
        case CmpOp::Lt:
            return c.value <= bit;  // x < v <= bit: x < bit, so bit (a power of two) is clear
        case CmpOp::Le:
            return c.value < bit;
        default:
            return false;
    }
}

bool guard_holds(const RiskRule& r, const SyscallRule& rule) {
    if (rule.clauses.empty()) return false;  // unconditional
    for (const auto& clause : rule.clauses) {
        bool ok = false;
        switch (r.guard) {
            case Guard::None:
                return false;
            case Guard::PinnedArg:
                ok = pins(clause, r.arg);
                break;
            case Guard::ThreadsOnly: {
                // A thread, and one that cannot carry namespace flags: `arg0 & CLONE_THREAD`
                // alone would still let CLONE_NEWUSER|CLONE_THREAD... through.
                const bool thread = std::any_of(clause.begin(), clause.end(), [](const auto& c) {
                    return c.arg == 0 && forces_set(c, CLONE_THREAD);
                });
                const bool no_namespaces = std::any_of(clause.begin(), clause.end(), [](const auto& c) {
                    if (c.arg != 0) return false;
                    for (uint64_t bit = 1; bit != 0; bit <<= 1)
                        if ((kNamespaceCloneFlags & bit) && !forces_clear(c, bit)) return false;
                    return true;
                });
                ok = thread && no_namespaces;
                break;
            }
            case Guard::NoProtExec:
                ok = std::any_of(clause.begin(), clause.end(),
                                 [&](const auto& c) { return c.arg == r.arg && forces_clear(c, PROT_EXEC); });
                break;
        }
        if (!ok) return false;
    }
    return true;
}

}  // namespace

Assessment assess_rule(const SyscallRule& rule, sandbox::ContextKind kind) {
    if (rule.clauses.empty() && rule.errno_value) return {Risk::Low, "always fails: allows nothing"};
    const RiskRule* r = find_rule(rule.name);
    if (!r) return {Risk::Low, ""};
    Risk unguarded = kind == sandbox::ContextKind::DeviceProcess ? r->device : r->thread;
    if (r->guard != Guard::None && guard_holds(*r, rule)) return {r->guarded, std::string(r->why) + " (restricted)"};
    return {unguarded, std::string(r->why)};
}

std::vector<JailCheck> check_jail(const sandbox::SandboxContext& context) {
    std::vector<JailCheck> checks;
    if (context.kind != sandbox::ContextKind::DeviceProcess) return checks;
    const auto& jail = context.jail;
    checks.push_back({"jail:process", "own process", jail.own_process, Risk::High,
                      jail.own_process ? "a separate process" : "runs inside brig's process"});
    for (const char* ns : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}) {
        bool used = std::find(jail.namespaces.begin(), jail.namespaces.end(), ns) != jail.namespaces.end();
        checks.push_back({std::string("jail:") + ns, std::string("namespace ") + ns, used, Risk::High,
                          used ? "new" : "shared with the host"});
    }
    checks.push_back({"jail:id_map", "uid/gid map", jail.id_map_unprivileged, Risk::High,
                      jail.id_map_unprivileged ? "J J 1 (an unprivileged id per device, or the --jail-user ids)"
                                               : "brig's own ids"});
    checks.push_back({"jail:capabilities", "capabilities", jail.drops_all_capabilities, Risk::High,
                      jail.drops_all_capabilities ? "none" : "kept"});
    checks.push_back(
        {"jail:no_new_privs", "no_new_privs", jail.no_new_privs, Risk::High, jail.no_new_privs ? "on" : "off"});
    checks.push_back({"jail:rlimits", "rlimits", !jail.rlimits.empty(), Risk::High,
                      jail.rlimits.empty() ? "none set" : std::to_string(jail.rlimits.size()) + " set"});
    std::optional<sandbox::Rlimit> core;
    for (const auto& r : jail.rlimits)
        if (std::string_view(r.name) == "RLIMIT_CORE") core = r;
    bool core_zero = core && core->soft == 0 && core->hard == 0;
    checks.push_back({"jail:rlimit_core", "RLIMIT_CORE = 0", core_zero, Risk::High,
                      !core       ? "not set: a core dump could hold guest memory"
                      : core_zero ? "0"
                                  : "not 0: a core dump could hold guest memory"});
    // The profile describes the root in words; an empty root is described as such.
    bool empty_root = jail.root.rfind("empty", 0) == 0;
    checks.push_back({"jail:root", "root", empty_root, Risk::High, jail.root.empty() ? "(unspecified)" : jail.root});
    checks.push_back({"jail:parent_death_signal", "parent-death signal", jail.parent_death_signal, Risk::Medium,
                      jail.parent_death_signal ? "set" : "not set: the device can outlive brig"});
    return checks;
}

}  // namespace brig::policy_tool
