#include "sandbox/profiles.h"

#include <sys/resource.h>

#include <algorithm>
#include <stdexcept>

namespace brig::sandbox {
namespace {

// A device holds a handful of fds, runs a few threads, and never dumps core (guest
// memory would be in it). No RLIMIT_FSIZE: the kernel checks it against the write
// offset, so it would fail every disk write past the limit.
std::vector<Rlimit> device_rlimits() {
    return {
        {"RLIMIT_NOFILE", RLIMIT_NOFILE, 64, 64},
        {"RLIMIT_NPROC", RLIMIT_NPROC, 64, 64},
        {"RLIMIT_CORE", RLIMIT_CORE, 0, 0},
    };
}

JailProfile device_jail(std::vector<std::string> activation_fds) {
    JailProfile jail;
    jail.own_process = true;
    jail.namespaces = {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"};
    jail.id_map_unprivileged = true;
    jail.drops_all_capabilities = true;
    jail.no_new_privs = true;
    jail.root = "empty read-only tmpfs (pivot_root); no host path visible";
    jail.rlimits = device_rlimits();
    jail.kept_fds = {"0: /dev/null", "1: /dev/null", "2: brig's stderr (logs)", "3: control socket (Cap'n Proto)",
                     "4: compiled seccomp filter (read once, closed)", "5: violation report pipe"};
    for (auto& fd : activation_fds) jail.kept_fds.push_back("at activation: " + fd);
    jail.parent_death_signal = true;
    return jail;
}

JailProfile vmm_thread() {
    JailProfile jail;
    jail.no_new_privs = true;
    jail.root = "host (brig's own process)";
    return jail;
}

std::vector<SandboxContext> build() {
    const std::vector<std::string> virtio_fds = {"irqfd", "forwarding mailbox (memfd)", "guest memory (memfd)",
                                                 "one ioeventfd per queue"};
    auto with = [&](std::vector<std::string> extra) {
        auto fds = virtio_fds;
        fds.insert(fds.end(), extra.begin(), extra.end());
        return fds;
    };
    return {
        {"serial", ContextKind::DeviceProcess, "serial_device.policy", "16550A UART (COM1)",
         device_jail({"irqfd", "forwarding mailbox (memfd)", "console output fd", "console input fd"})},
        {"virtio-blk", ContextKind::DeviceProcess, "virtio_blk_device.policy", "virtio block device (--disk)",
         device_jail(with({"disk image fd (opened by brig)"}))},
        {"virtio-rng", ContextKind::DeviceProcess, "virtio_rng_device.policy", "virtio entropy device (--rng)",
         device_jail(with({}))},
        {"virtio-console", ContextKind::DeviceProcess, "virtio_console_device.policy",
         "virtio console, hvc0 (--console)", device_jail(with({"console output fd", "console input fd"}))},
        {"vcpu", ContextKind::VmmThread, "brig_vcpu.policy", "brig's vCPU threads (KVM_RUN, exit handling)",
         vmm_thread()},
        {"main", ContextKind::VmmThread, "brig_main.policy", "brig's main thread once the guest runs (supervisor)",
         vmm_thread()},
        {"ipc", ContextKind::VmmThread, "brig_ipc.policy", "brig's IPC thread (Cap'n Proto control path)",
         vmm_thread()},
    };
}

bool has(const std::vector<std::string>& list, const char* item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

const std::vector<SandboxContext>& sandbox_contexts() {
    static const std::vector<SandboxContext> contexts = build();
    return contexts;
}

const SandboxContext& device_context(std::string_view kind) {
    for (const auto& c : sandbox_contexts())
        if (c.kind == ContextKind::DeviceProcess && c.name == kind) return c;
    throw std::out_of_range("unknown device kind '" + std::string(kind) + "'");
}

minijail::JailSpec jail_spec_for(const SandboxContext& context, uint32_t uid, uint32_t gid) {
    const JailProfile& jail = context.jail;
    minijail::JailSpec spec;
    spec.uid = uid;
    spec.gid = gid;
    spec.hostname = "brig-" + context.name;
    for (const auto& r : jail.rlimits) spec.rlimits.push_back({r.resource, r.soft, r.hard});
    spec.new_net = has(jail.namespaces, "net");
    spec.new_ipc = has(jail.namespaces, "ipc");
    spec.new_uts = has(jail.namespaces, "uts");
    spec.new_cgroup = has(jail.namespaces, "cgroup");
    return spec;
}

}  // namespace brig::sandbox
