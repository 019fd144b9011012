// --cgroup-parent PATH: each device process in a cgroup of its own, with a memory
// limit and a task limit, so a device that a guest has taken over cannot take the
// host's memory or fill its process table. On cgroup v2 the leaf has memory.max and
// pids.max; on v1 (memory and pids mounted as their own hierarchies) there is a leaf
// in each, with memory.limit_in_bytes and pids.max. The leaf is PATH/brig-PID-DEVICE.
// A PATH that starts with "/" is taken from the hierarchy's root, any other from
// brig's own cgroup. The spawned child joins the leaves before it executes the
// device (minijail::SpawnSpec::join_cgroup_fds), so the device never runs outside
// them; the leaves are removed when the device has been reaped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace brig {

// Where the cgroup hierarchies are mounted, from /proc/self/mountinfo.
struct CgroupMounts {
    struct Mount {
        std::filesystem::path point;  // "/sys/fs/cgroup/memory"
        std::string root;             // the hierarchy's path mounted there, usually "/"
    };
    std::optional<Mount> memory_v1, pids_v1, unified;
};
CgroupMounts parse_cgroup_mounts(std::string_view mountinfo);

// This process's cgroup in the v1 hierarchy that has `controller`, or ("") in v2,
// from /proc/self/cgroup ("4:memory:/a/b", "0::/a/b").
std::optional<std::string> own_cgroup(std::string_view proc_self_cgroup, std::string_view controller);

// The directory of `parent` (the --cgroup-parent value) in a hierarchy mounted at
// `mount`, for a process whose own cgroup there is `own`.
std::filesystem::path cgroup_parent_dir(const CgroupMounts::Mount& mount, const std::string& own,
                                        const std::string& parent);

class DeviceCgroup {
public:
    ~DeviceCgroup();  // removes the leaves (the device must be gone)
    DeviceCgroup(const DeviceCgroup&) = delete;
    DeviceCgroup& operator=(const DeviceCgroup&) = delete;

    // The leaves' cgroup.procs, open for writing: a process that writes "0" joins.
    std::vector<int> procs_fds() const;
    const std::vector<std::filesystem::path>& dirs() const { return dirs_; }
    uint64_t memory_limit() const { return memory_bytes_; }
    // After the device died: whether the memory controller's OOM killer killed in
    // this cgroup (oom_kill in memory.events, v2, or memory.oom_control, v1). Read
    // once; the files were opened at creation (brig's main thread opens nothing).
    bool oom_killed();
    // Removes the leaves now (idempotent; the destructor calls it).
    void remove();

private:
    friend class DeviceCgroups;
    DeviceCgroup() = default;
    std::string device_;
    std::vector<std::filesystem::path> dirs_;
    std::vector<base::UniqueFd> procs_;
    base::UniqueFd oom_counter_;
    uint64_t memory_bytes_ = 0;
};

// The parent directories for one brig run, found and created once.
class DeviceCgroups {
public:
    // Throws InvalidArgument when no memory and pids controllers are available, or
    // HostError when the parent cannot be created or its controllers enabled.
    static DeviceCgroups locate(const std::string& parent);

    // A leaf for `device` with these limits.
    std::unique_ptr<DeviceCgroup> create(const std::string& device, uint64_t memory_bytes, uint64_t pids) const;

private:
    bool v2_ = false;
    std::filesystem::path memory_parent_, pids_parent_;  // the same on v2
};

}  // namespace brig
