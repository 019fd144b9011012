// Every sandboxed context of brig, in one table: which seccomp policy applies and what
// jail surrounds it. The launcher builds jails from this table and `brig policy`
// prints and audits the same table, so the audit can never drift from what runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "minijail-wrapper/minijail/jail.h"

namespace brig::sandbox {

enum class ContextKind {
    DeviceProcess,  // a brig-device process: jailed, filtered
    VmmThread,      // a thread class of brig itself: filtered, no jail of its own
};

struct Rlimit {
    const char* name;  // "RLIMIT_NOFILE"
    int resource;
    uint64_t soft;
    uint64_t hard;
};

struct JailProfile {
    bool own_process = false;             // a separate, jailed process
    std::vector<std::string> namespaces;  // new namespaces: "user", "pid", "mnt", "net", "ipc", "uts", "cgroup"
    bool id_map_unprivileged = false;     // uid/gid map "J J 1": the device's own id (--jail-ids) or --jail-user
    bool drops_all_capabilities = false;  // effective, permitted, inheritable, bounding, ambient
    bool no_new_privs = false;
    std::string root;  // what "/" is
    std::vector<Rlimit> rlimits;
    std::vector<std::string> kept_fds;  // "3: control socket", ...
    bool parent_death_signal = false;
    // With --cgroup-parent: the device's own cgroup's memory limit (memory.max, or
    // memory.limit_in_bytes on v1) and task limit (pids.max). A device that maps guest
    // memory is charged for the guest pages it touches first, so it gets the guest's
    // size on top.
    uint64_t cgroup_memory_bytes = 0;
    bool cgroup_memory_plus_guest = false;
    uint64_t cgroup_pids = 0;
};

struct SandboxContext {
    std::string name;  // "serial", "virtio-blk", "vcpu"
    ContextKind kind;
    std::string policy_file;  // in the policy directory: "serial_device.policy"
    std::string description;
    JailProfile jail;
};

// brig-device's exit status when an allocation fails (RLIMIT_DATA, or a cgroup's
// memory limit without an OOM kill): the device cannot go on, and says why.
constexpr int kDeviceExitOutOfMemory = 3;

const std::vector<SandboxContext>& sandbox_contexts();
// Throws std::out_of_range for an unknown device kind.
const SandboxContext& device_context(std::string_view kind);

// "UID[:GID]" (--jail-user), each id in 1..0xfffffffe ((uid_t)-1 means "unchanged" to
// setresuid); the gid is the uid when absent. One parser for `brig run` and
// `brig policy show`. Throws std::invalid_argument with the reason ("'x' is not a number").
struct JailIds {
    uint32_t uid;
    uint32_t gid;
};
JailIds parse_jail_ids(std::string_view text);

// The jail a device process enters, from its profile.
minijail::JailSpec jail_spec_for(const SandboxContext& context, uint32_t uid, uint32_t gid);

}  // namespace brig::sandbox
