#include "ipc/sandbox/profiles.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "ipc/device_kind.h"

namespace brig::sandbox {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// What a device may use, measured (VmData, VmHWM, RssAnon, threads in /proc while the
// test guest drives every device, blk-bench included): every kind peaks at about
// 16.6 MiB of VmData, almost all of it the 8 MiB stacks of its threads (the serial
// device has two, the virtio ones three), and at 0.5 MiB RssAnon, 7 MiB VmHWM with
// the binary's pages. A console's output writer thread (common/buffered_output.h)
// adds one more stack. The bounds leave about 3x of that.
struct MemoryBounds {
    uint64_t data_bytes;    // RLIMIT_DATA: private writable mappings (heap, stacks); not the
                            // MAP_SHARED guest memory and mailbox
    uint64_t cgroup_bytes;  // resident, charged to its cgroup (--cgroup-parent)
};
constexpr MemoryBounds kSerialMemory{64 * kMiB, 24 * kMiB};
constexpr MemoryBounds kVirtioMemory{80 * kMiB, 32 * kMiB};
// Tasks: 2 or 3 threads each. RLIMIT_NPROC counts the tasks of the device's uid on the
// whole host; each device has a uid of its own (--jail-ids) unless --jail-user makes
// a VM's devices share one, hence the room. The cgroup counts the device alone.
constexpr uint64_t kDeviceTasks = 64;
constexpr uint64_t kCgroupTasks = 16;

// A device holds a handful of fds (and the ones its kind receives later), runs a few threads, never dumps core (guest
// memory would be in it), and has a bounded heap. No RLIMIT_FSIZE: the kernel checks
// it against the write offset, so it would fail every disk write past the limit.
constexpr uint64_t kDeviceFds = 64;
std::vector<Rlimit> device_rlimits(const MemoryBounds& memory, const ipc::DeviceKind& kind) {
    const uint64_t fds = kDeviceFds + kind.later_fds;
    return {
        {"RLIMIT_NOFILE", RLIMIT_NOFILE, fds, fds},
        {"RLIMIT_NPROC", RLIMIT_NPROC, kDeviceTasks, kDeviceTasks},
        {"RLIMIT_CORE", RLIMIT_CORE, 0, 0},
        {"RLIMIT_DATA", RLIMIT_DATA, memory.data_bytes, memory.data_bytes},
    };
}

JailProfile device_jail(const ipc::DeviceKind& kind) {
    // The serial device maps no guest memory and runs fewer threads.
    const MemoryBounds& memory = kind.is_virtio() ? kVirtioMemory : kSerialMemory;
    JailProfile jail;
    jail.own_process = true;
    jail.namespaces = {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"};
    jail.id_map_unprivileged = true;
    jail.drops_all_capabilities = true;
    jail.no_new_privs = true;
    jail.root = "empty read-only tmpfs (pivot_root); no host path visible";
    jail.rlimits = device_rlimits(memory, kind);
    jail.cgroup_memory_bytes = memory.cgroup_bytes;
    const auto resources = kind.resources();
    jail.cgroup_memory_plus_guest = std::any_of(resources.begin(), resources.end(),
                                                [](const auto& r) { return r.name == ipc::resource::kGuestMemory; });
    jail.cgroup_pids = kCgroupTasks;
    jail.kept_fds = {"0: /dev/null",
                     "1: /dev/null",
                     "2: brig's stderr (logs)",
                     "3: control socket (Cap'n Proto)",
                     "4: compiled seccomp filter (read once, closed)",
                     "5: violation report pipe"};
    // One line per resource, a per-queue one once.
    for (const auto& spec : kind.resources()) {
        std::string line = "at activation: " + std::string(spec.description);
        if (spec.jail_fd != ipc::ResourceSpec::kAnyFd) line += " (at fd " + std::to_string(spec.jail_fd) + ")";
        if (std::find(jail.kept_fds.begin(), jail.kept_fds.end(), line) == jail.kept_fds.end())
            jail.kept_fds.push_back(line);
    }
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
    std::vector<SandboxContext> contexts;
    for (const ipc::DeviceKind* kind : ipc::device_kinds())
        contexts.push_back({std::string(kind->name), ContextKind::DeviceProcess, kind->policy_file(),
                            std::string(kind->description), device_jail(*kind)});
    std::vector<SandboxContext> threads = {
        {"vcpu", ContextKind::VmmThread, "brig_vcpu.policy", "brig's vCPU threads (KVM_RUN, exit handling)",
         vmm_thread()},
        {"main", ContextKind::VmmThread, "brig_main.policy", "brig's main thread once the guest runs (supervisor)",
         vmm_thread()},
        {"ipc", ContextKind::VmmThread, "brig_ipc.policy", "brig's IPC thread (Cap'n Proto control path)",
         vmm_thread()},
        {"vsock", ContextKind::VmmThread, "brig_vsock.policy",
         "brig's vsock broker thread (--vsock: the host's unix sockets for the guest)", vmm_thread()},
        {"control", ContextKind::VmmThread, "brig_control.policy",
         "brig's control socket thread (--socket: brig stop, suspend, resume, status, events)", vmm_thread()},
    };
    contexts.insert(contexts.end(), threads.begin(), threads.end());
    return contexts;
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

JailIds parse_jail_ids(std::string_view text) {
    constexpr uint64_t kMaxJailId = 0xfffffffe;
    auto id = [](std::string_view word) -> uint32_t {
        uint64_t value = 0;
        const char* end = word.data() + word.size();
        const auto [ptr, ec] = std::from_chars(word.data(), end, value);
        if (word.empty() || ec != std::errc() || ptr != end)
            throw std::invalid_argument("'" + std::string(word) + "' is not a number");
        if (value < 1 || value > kMaxJailId)
            throw std::invalid_argument(std::to_string(value) + " is out of range (1.." + std::to_string(kMaxJailId) +
                                        ")");
        return static_cast<uint32_t>(value);
    };
    const auto colon = text.find(':');
    const uint32_t uid = id(text.substr(0, colon));
    return {uid, colon == std::string_view::npos ? uid : id(text.substr(colon + 1))};
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
