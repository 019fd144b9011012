// The uid/gid each device process runs as. By default every device gets an id of its
// own from a range (--jail-ids FIRST-LAST): then RLIMIT_NPROC, which the kernel counts
// per uid across the host, is a limit per device, and no device (and no host process)
// can signal another VM's devices. An id is held with flock(2) on a file per id in a
// root-only directory, so two brig processes never hand out the same id, and the
// kernel frees it when brig exits, however it exits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace brig {

struct JailIdRange {
    uint32_t first = 0;
    uint32_t last = 0;
    uint64_t size() const { return uint64_t{last} - first + 1; }
    std::string str() const { return std::to_string(first) + "-" + std::to_string(last); }
};

// Reserved for brig by default: above the ids distributions give users and system
// services, below the ranges container tools usually put in /etc/subuid (100000+65536*n
// grows past it only with many users; pick another range with --jail-ids then).
constexpr JailIdRange kDefaultJailIds{400000, 499999};
// Where the lock files live (one per id in use or once used).
inline const std::filesystem::path kJailIdLockDir = "/run/brig/ids";

class JailIdAllocator {
public:
    // Creates `lock_dir` (0700) if missing; refuses one that is not a directory owned
    // by us and closed to others (HostError).
    JailIdAllocator(const std::filesystem::path& lock_dir, JailIdRange range);

    // Locks a free id of the range and keeps it until this allocator is destroyed.
    // HostError when every id of the range is held (by this or other brig processes).
    uint32_t acquire();
    size_t held() const { return held_.size(); }
    JailIdRange range() const { return range_; }

private:
    struct Held {
        uint32_t id;
        base::UniqueFd lock;  // O_CLOEXEC: never inherited by a device
    };
    base::UniqueFd dir_;
    JailIdRange range_;
    uint64_t next_ = 0;  // offset into the range where the next search starts
    std::vector<Held> held_;
};

}  // namespace brig
