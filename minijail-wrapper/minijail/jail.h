// The jail a device process enters itself: user, mount and (optionally) net, IPC,
// UTS and cgroup namespaces; an empty read-only tmpfs root; rlimits; no capabilities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minijail {

struct JailSpec {
    uint32_t uid = 65534, gid = 65534;  // the unprivileged ids, the same inside and outside ("J J 1")
    std::string hostname = "jail";      // only set with new_uts
    struct Limit {
        int resource;         // RLIMIT_*
        uint64_t soft, hard;  // RLIM_INFINITY allowed
    };
    std::vector<Limit> rlimits;
    bool new_net = true, new_ipc = true, new_uts = true, new_cgroup = true;  // user and mount are always new
};

// Must be called by a single-threaded process that is root in the initial user
// namespace. On return the process runs as uid/gid J in its own user namespace with
// no capabilities (all five sets empty), no supplementary groups, NO_NEW_PRIVS set,
// not dumpable, and "/" is an empty read-only tmpfs. The parent-death signal (if set)
// is kept. Throws base::SystemError ("STEP: ENAME (message)") or std::runtime_error.
void enter_jail(const JailSpec& spec);

}  // namespace minijail
