#include "vmm/sandbox/device_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sstream>

#include "base/error.h"
#include "vmm/error.h"

namespace brig {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        const size_t end = text.find(sep, start);
        out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return out;
        start = end + 1;
    }
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        base::throw_errno("--cgroup-parent: cannot write '" + text + "' to " + path.string());
}

// mkdir -p below `base` (which exists): the operator's parent, left in place at exit.
void make_dirs(const std::filesystem::path& dir) {
    std::filesystem::path at;
    for (const auto& part : dir) {
        at /= part;
        if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST)
            base::throw_errno("--cgroup-parent: mkdir " + at.string());
    }
}

// v2: a child cgroup has memory.max and pids.max only if every ancestor from the root
// down to its parent delegates the controllers in cgroup.subtree_control.
void enable_controllers_down_to(const std::filesystem::path& mount_point, const std::filesystem::path& dir) {
    std::filesystem::path at = mount_point;
    const auto relative = dir.lexically_relative(mount_point);
    std::vector<std::filesystem::path> chain = {at};
    for (const auto& part : relative) {
        if (part == ".") continue;
        at /= part;
        chain.push_back(at);
    }
    for (const auto& level : chain) {
        const std::string enabled = read_text(level / "cgroup.subtree_control");
        if (enabled.find("memory") != std::string::npos && enabled.find("pids") != std::string::npos) continue;
        write_text(level / "cgroup.subtree_control", "+memory +pids");
    }
}

// "oom_kill N" in memory.events (v2) or memory.oom_control (v1).
bool counts_an_oom_kill(const std::string& text) {
    std::istringstream in(text);
    for (std::string key, value; in >> key >> value;)
        if (key == "oom_kill") return value != "0";
    return false;
}

}  // namespace

CgroupMounts parse_cgroup_mounts(std::string_view mountinfo) {
    CgroupMounts mounts;
    for (std::string_view line : split(mountinfo, '\n')) {
        // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        const size_t dash = line.find(" - ");
        if (dash == std::string_view::npos) continue;
        const auto before = split(line.substr(0, dash), ' ');
        const auto after = split(line.substr(dash + 3), ' ');
        if (before.size() < 5 || after.size() < 3) continue;
        const CgroupMounts::Mount mount{std::string(before[4]), std::string(before[3])};
        if (after[0] == "cgroup2") {
            if (!mounts.unified) mounts.unified = mount;
        } else if (after[0] == "cgroup") {
            for (std::string_view option : split(after[2], ',')) {
                if (option == "memory" && !mounts.memory_v1) mounts.memory_v1 = mount;
                if (option == "pids" && !mounts.pids_v1) mounts.pids_v1 = mount;
            }
        }
    }
    return mounts;
}

std::optional<std::string> own_cgroup(std::string_view proc_self_cgroup, std::string_view controller) {
    for (std::string_view line : split(proc_self_cgroup, '\n')) {
        // ID:CONTROLLERS:PATH; the path may itself hold ':'.
        const size_t first = line.find(':');
        const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        const std::string_view controllers = line.substr(first + 1, second - first - 1);
        const std::string_view path = line.substr(second + 1);
        if (controller.empty() ? (line.substr(0, first) == "0" && controllers.empty()) : [&] {
                for (std::string_view c : split(controllers, ','))
                    if (c == controller) return true;
                return false;
            }())
            return std::string(path);
    }
    return std::nullopt;
}

std::filesystem::path cgroup_parent_dir(const CgroupMounts::Mount& mount, const std::string& own,
                                        const std::string& parent) {
    std::string below_root;  // the hierarchy path of the parent, relative to the mount's root
    if (!parent.empty() && parent[0] == '/') {
        below_root = parent;
    } else {
        below_root = own + "/" + parent;
    }
    std::string root = mount.root == "/" ? "" : mount.root;
    if (!root.empty() && below_root.rfind(root, 0) == 0) below_root = below_root.substr(root.size());
    return (mount.point / std::filesystem::path(below_root).relative_path()).lexically_normal();
}

DeviceCgroups DeviceCgroups::locate(const std::string& parent) {
    const CgroupMounts mounts = parse_cgroup_mounts(read_text("/proc/self/mountinfo"));
    const std::string self = read_text("/proc/self/cgroup");
    DeviceCgroups cgroups;
    if (mounts.memory_v1 && mounts.pids_v1) {
        const auto own_memory = own_cgroup(self, "memory"), own_pids = own_cgroup(self, "pids");
        if (!own_memory || !own_pids)
            throw HostError("--cgroup-parent: brig's own memory/pids cgroup is not in /proc/self/cgroup");
        cgroups.memory_parent_ = cgroup_parent_dir(*mounts.memory_v1, *own_memory, parent);
        cgroups.pids_parent_ = cgroup_parent_dir(*mounts.pids_v1, *own_pids, parent);
        make_dirs(cgroups.memory_parent_);
        make_dirs(cgroups.pids_parent_);
        return cgroups;
    }
    if (mounts.unified && !mounts.memory_v1 && !mounts.pids_v1) {
        const std::string controllers = read_text(mounts.unified->point / "cgroup.controllers");
        if (controllers.find("memory") != std::string::npos && controllers.find("pids") != std::string::npos) {
            const auto own = own_cgroup(self, "");
            if (!own) throw HostError("--cgroup-parent: brig's own cgroup is not in /proc/self/cgroup");
            cgroups.v2_ = true;
            cgroups.memory_parent_ = cgroups.pids_parent_ = cgroup_parent_dir(*mounts.unified, *own, parent);
            make_dirs(cgroups.memory_parent_);
            enable_controllers_down_to(mounts.unified->point, cgroups.memory_parent_);
            return cgroups;
        }
    }
    throw InvalidArgument(
        "--cgroup-parent: this host has neither cgroup v2 with the memory and pids controllers nor "
        "the v1 memory and pids hierarchies mounted");
}

std::unique_ptr<DeviceCgroup> DeviceCgroups::create(const std::string& device, uint64_t memory_bytes,
                                                    uint64_t pids) const {
    const std::string leaf = "brig-" + std::to_string(getpid()) + "-" + device;
    auto cgroup = std::unique_ptr<DeviceCgroup>(new DeviceCgroup());
    cgroup->memory_bytes_ = memory_bytes;
    cgroup->device_ = device;
    auto make_leaf = [&](const std::filesystem::path& parent) {
        const auto dir = parent / leaf;
        // A leaf left by a brig of the same pid that was killed: empty, so removable.
        ::rmdir(dir.c_str());
        if (::mkdir(dir.c_str(), 0755) != 0) base::throw_errno("--cgroup-parent: mkdir " + dir.string());
        cgroup->dirs_.push_back(dir);
        return dir;
    };
    auto open_procs = [&](const std::filesystem::path& dir) {
        base::UniqueFd fd(::open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) base::throw_errno("--cgroup-parent: open " + (dir / "cgroup.procs").string());
        cgroup->procs_.push_back(std::move(fd));
    };
    auto open_counter = [&](const std::filesystem::path& file) {
        cgroup->oom_counter_.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (!cgroup->oom_counter_) base::throw_errno("--cgroup-parent: open " + file.string());
    };
    if (v2_) {
        const auto dir = make_leaf(memory_parent_);
        write_text(dir / "memory.max", std::to_string(memory_bytes));
        write_text(dir / "memory.swap.max", "0");
        write_text(dir / "pids.max", std::to_string(pids));
        open_procs(dir);
        open_counter(dir / "memory.events");
    } else {
        const auto memory = make_leaf(memory_parent_);
        write_text(memory / "memory.limit_in_bytes", std::to_string(memory_bytes));
        const auto tasks = make_leaf(pids_parent_);
        write_text(tasks / "pids.max", std::to_string(pids));
        open_procs(memory);
        open_procs(tasks);
        open_counter(memory / "memory.oom_control");
    }
    return cgroup;
}

std::vector<int> DeviceCgroup::procs_fds() const {
    std::vector<int> fds;
    for (const auto& fd : procs_) fds.push_back(fd.get());
    return fds;
}

bool DeviceCgroup::oom_killed() {
    if (!oom_counter_) return false;
    char buf[1024];
    const ssize_t n = ::read(oom_counter_.get(), buf, sizeof buf - 1);
    oom_counter_.reset();
    return n > 0 && counts_an_oom_kill(std::string(buf, static_cast<size_t>(n)));
}

void DeviceCgroup::remove() {
    procs_.clear();
    oom_counter_.reset();
    for (const auto& dir : dirs_)
        if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
            spdlog::warn("[{}] cannot remove its cgroup {}: {}", device_, dir.string(), base::errno_text(errno));
    dirs_.clear();
}

DeviceCgroup::~DeviceCgroup() { remove(); }

}  // namespace brig
