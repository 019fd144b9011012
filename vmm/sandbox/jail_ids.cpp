#include "vmm/sandbox/jail_ids.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "vmm/error.h"

namespace brig {
namespace {

// mkdir -p, each new level 0700; an existing level is left as it is.
void make_private_dirs(const std::filesystem::path& dir) {
    std::filesystem::path at;
    for (const auto& part : dir) {
        at /= part;
        if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) base::throw_errno("jail ids: mkdir " + at.string());
    }
}

}  // namespace

JailIdAllocator::JailIdAllocator(const std::filesystem::path& lock_dir, JailIdRange range) : range_(range) {
    if (range.first == 0 || range.first > range.last) throw InvalidArgument("--jail-ids: bad range " + range.str());
    make_private_dirs(lock_dir);
    dir_.reset(::open(lock_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_) base::throw_errno("jail ids: open " + lock_dir.string());
    struct stat st {};
    if (fstat(dir_.get(), &st) != 0) base::throw_errno("jail ids: stat " + lock_dir.string());
    // Anyone else who could write here could hold our ids or swap the lock files.
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
        throw HostError("jail ids: " + lock_dir.string() + " must be a directory owned by uid " +
                        std::to_string(geteuid()) + " with mode 0700 (it is uid " + std::to_string(st.st_uid) +
                        ", mode 0" + std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                        std::to_string(st.st_mode & 7) + ")");
}

uint32_t JailIdAllocator::acquire() {
    for (uint64_t tried = 0; tried < range_.size(); ++tried) {
        const uint64_t offset = (next_ + tried) % range_.size();
        const auto id = static_cast<uint32_t>(range_.first + offset);
        const std::string name = std::to_string(id);
        base::UniqueFd lock(::openat(dir_.get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!lock) base::throw_errno("jail ids: open " + name);
        if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK || errno == EINTR) continue;  // held by a brig (maybe this one)
            base::throw_errno("jail ids: flock " + name);
        }
        next_ = offset + 1;
        held_.push_back({id, std::move(lock)});
        return id;
    }
    throw HostError("--jail-ids " + range_.str() + ": no free id, all " + std::to_string(range_.size()) +
                    " are held by running brig processes (this one holds " + std::to_string(held_.size()) +
                    "); give a larger range");
}

}  // namespace brig
