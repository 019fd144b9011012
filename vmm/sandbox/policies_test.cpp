// The shipped policies, read as an auditor would: what each device may and may not do.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "ipc/device_contract.h"
#include "minijail-wrapper/minijail/policy.h"
#include "vmm/sandbox/policies.h"
#include "ipc/sandbox/profiles.h"
#include "vmm/vcpu/vcpu.h"

namespace {

std::filesystem::path policy_dir() {
    const char* dir = std::getenv("BRIG_POLICY_DIR");
    if (!dir) FAIL("BRIG_POLICY_DIR is not set (run the tests through meson)");
    return dir;
}

minijail::Policy device_policy(const std::string& kind) {
    return minijail::parse_policy_file(policy_dir() / (kind + "_device.policy"));
}

// Allowed at all, in any form other than "always fail with an errno".
bool allows(const minijail::Policy& policy, const char* syscall) {
    const auto* rule = policy.find(syscall);
    return rule && !(rule->clauses.empty() && rule->errno_value);
}

// Forks; the child puts a scratch file at `disk_fd`, installs the blk device's filter
// (trapping), runs `body` and exits 0. Returns the raw wait status.
int run_as_blk_device(int disk_fd, const std::function<void(int scratch_fd)>& body) {
    const auto filter = brig::compile_device_policy(policy_dir(), "virtio-blk");
    char path[] = "/tmp/brig-blk-policy-XXXXXX";
    const int scratch = mkstemp(path);
    REQUIRE(scratch >= 0);
    unlink(path);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        if (dup2(scratch, disk_fd) != disk_fd) _exit(90);
        minijail::install_filter(filter, false);
        body(scratch);
        _exit(0);
    }
    close(scratch);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

bool killed_by_sigsys(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }

// Forks; the child installs `filter` (brig's own, default action trap), runs `body` and
// exits with its return value. Returns the raw wait status.
int run_under(const brig::BpfProgram& filter, const std::function<int()>& body) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        // Signals that a permitted tgkill sends to the child itself stay pending, harmless.
        sigset_t all;
        sigfillset(&all);
        sigdelset(&all, SIGSYS);
        sigprocmask(SIG_BLOCK, &all, nullptr);
        try {
            minijail::install_filter(filter, false);
        } catch (...) {
            _exit(99);
        }
        _exit(body());
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::function<int()> tgkill_self(int signal) {
    return [signal] { return syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), signal) == 0 ? 0 : 1; };
}

// On a pidfd that is no pidfd: the filter decides before the kernel says EBADF.
std::function<int()> pidfd_send(int signal) {
    return [signal] { return syscall(SYS_pidfd_send_signal, -1, signal, nullptr, 0) == -1 && errno == EBADF ? 0 : 1; };
}

}  // namespace

TEST_CASE("brig's main thread signals only its vCPUs (the kick) and devices (SIGKILL)", "[policies]") {
    const auto main = brig::compile_vmm_policies(policy_dir()).main;
    CHECK(exited_ok(run_under(main, tgkill_self(brig::Vcpu::kick_signal()))));
    CHECK(exited_ok(run_under(main, tgkill_self(SIGABRT))));  // abort(): a crash stays a crash
    for (int denied : {SIGTERM, SIGUSR1, SIGKILL, SIGRTMIN + 1}) {
        INFO("tgkill signal " << denied);
        CHECK(killed_by_sigsys(run_under(main, tgkill_self(denied))));
    }
    CHECK(exited_ok(run_under(main, pidfd_send(SIGKILL))));
    for (int denied : {SIGTERM, SIGSTOP, SIGCONT, 0}) {
        INFO("pidfd_send_signal signal " << denied);
        CHECK(killed_by_sigsys(run_under(main, pidfd_send(denied))));
    }
}

TEST_CASE("brig's IPC thread kills devices with SIGKILL and signals nothing else", "[policies]") {
    const auto ipc = brig::compile_vmm_policies(policy_dir()).ipc;
    CHECK(exited_ok(run_under(ipc, pidfd_send(SIGKILL))));
    CHECK(killed_by_sigsys(run_under(ipc, pidfd_send(SIGTERM))));
    CHECK(killed_by_sigsys(run_under(ipc, tgkill_self(brig::Vcpu::kick_signal()))));
}

TEST_CASE("brig's vCPU threads send no signals", "[policies]") {
    const auto vcpu = brig::compile_vmm_policies(policy_dir()).vcpu;
    CHECK(killed_by_sigsys(run_under(vcpu, tgkill_self(brig::Vcpu::kick_signal()))));
    CHECK(killed_by_sigsys(run_under(vcpu, pidfd_send(SIGKILL))));
}

TEST_CASE("the blk device's file syscalls work on its disk's fd number and on no other fd", "[policies]") {
    constexpr int kDisk = brig::ipc::device_contract::kDiskFd;
    const char byte = 'x';
    auto ok = [](int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; };
    CHECK(ok(run_as_blk_device(kDisk, [&](int) {
        if (pwrite(kDisk, &byte, 1, 1 << 20) != 1 || fdatasync(kDisk) != 0) _exit(1);
        if (fallocate(kDisk, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) != 0) _exit(2);
    })));
    // The same scratch file through another fd number: refused, as brig's stderr would be.
    CHECK(killed_by_sigsys(run_as_blk_device(kDisk, [&](int scratch) { (void)pwrite(scratch, &byte, 1, 0); })));
    CHECK(killed_by_sigsys(run_as_blk_device(
        kDisk, [&](int scratch) { (void)fallocate(scratch, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096); })));
    CHECK(killed_by_sigsys(run_as_blk_device(kDisk, [&](int) { (void)fdatasync(STDERR_FILENO); })));
}

TEST_CASE("no device may open files, execute, create sockets or map executable memory", "[policies]") {
    for (const char* kind : {"serial", "virtio_blk", "virtio_rng", "virtio_console"}) {
        INFO(kind);
        const auto policy = device_policy(kind);
        for (const char* forbidden :
             {"open", "openat", "openat2", "creat", "execve", "execveat", "socket", "connect", "ptrace", "mount",
              "unshare", "setns", "bpf", "process_vm_readv", "process_vm_writev", "init_module", "kexec_load"}) {
            INFO(forbidden);
            CHECK_FALSE(allows(policy, forbidden));
        }
        const auto* mmap = policy.find("mmap");
        REQUIRE(mmap != nullptr);
        CHECK_FALSE(mmap->allows_unconditionally());
    }
}

TEST_CASE("the rng device has no file I/O beyond its fds' basics", "[policies]") {
    const auto policy = device_policy("virtio_rng");
    for (const char* io :
         {"pread64", "pwrite64", "preadv", "pwritev", "fdatasync", "fsync", "fallocate", "ftruncate"}) {
        INFO(io);
        CHECK_FALSE(allows(policy, io));
    }
    CHECK(allows(policy, "getrandom"));
}

TEST_CASE("the blk device does positioned I/O and flushes, nothing more", "[policies]") {
    const auto policy = device_policy("virtio_blk");
    CHECK(allows(policy, "fdatasync"));
    CHECK((allows(policy, "preadv") || allows(policy, "pread64")));
    CHECK((allows(policy, "pwritev") || allows(policy, "pwrite64")));
    CHECK_FALSE(allows(policy, "getrandom"));
}

TEST_CASE("every sandbox context has a policy file that compiles", "[policies]") {
    for (const auto& context : brig::sandbox::sandbox_contexts()) {
        INFO(context.name << ": " << context.policy_file);
        CHECK(std::filesystem::exists(policy_dir() / context.policy_file));
        if (context.kind == brig::sandbox::ContextKind::DeviceProcess) {
            CHECK_FALSE(brig::compile_device_policy(policy_dir(), context.name).empty());
            CHECK(context.jail.own_process);
            CHECK(context.jail.no_new_privs);
            CHECK(context.jail.drops_all_capabilities);
        }
    }
    const auto vmm = brig::compile_vmm_policies(policy_dir());
    CHECK_FALSE(vmm.vcpu.empty());
    CHECK_FALSE(vmm.main.empty());
    CHECK_FALSE(vmm.ipc.empty());
}
