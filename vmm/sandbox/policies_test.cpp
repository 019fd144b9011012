// The shipped policies, read as an auditor would: what each device may and may not do.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "minijail/policy.h"
#include "sandbox/policies.h"
#include "sandbox/profiles.h"

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

}  // namespace

TEST_CASE("no device may open files, execute, create sockets or map executable memory", "[policies]") {
    for (const char* kind : {"serial", "virtio_blk", "virtio_rng", "virtio_console"}) {
        INFO(kind);
        const auto policy = device_policy(kind);
        for (const char* forbidden : {"open", "openat", "openat2", "creat", "execve", "execveat", "socket", "connect",
                                      "ptrace", "mount", "unshare", "setns", "bpf", "process_vm_readv",
                                      "process_vm_writev", "init_module", "kexec_load"}) {
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
    for (const char* io : {"pread64", "pwrite64", "preadv", "pwritev", "fdatasync", "fsync", "fallocate", "ftruncate"}) {
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
