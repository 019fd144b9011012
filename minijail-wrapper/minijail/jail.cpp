// Order of the steps, and why it differs from the obvious one:
//
// The kernel binds /proc/PID/{uid_map,gid_map,setgroups} to the user namespace of
// the target *when the file is opened*, so they must be opened after unshare. A
// process that has just unshared its user namespace has no capability in the parent
// namespace, so the only map it may write for itself is the single id it already runs
// as ("the creator's euid/egid", with setgroups denied for gid_map). Hence:
//   1. while root: setgroups(0), rlimits (raising a hard limit needs CAP_SYS_RESOURCE
//      in the initial namespace), setresgid(J), setresuid(J);
//   2. unshare(CLONE_NEWUSER | CLONE_NEWNS | ...): the new user namespace is owned by
//      J, and the process has every capability inside it;
//   3. write "deny" to setgroups, "J J 1" to gid_map and uid_map. The euid change in
//      step 1 made the process non-dumpable, which makes its /proc files root-owned;
//      it is dumpable only while these three files are opened.
//   4. mounts, pivot_root, hostname, bounding set, capabilities, NO_NEW_PRIVS.
// A euid change also clears the parent-death signal; it is restored after step 1.
#include "minijail-wrapper/minijail/jail.h"

#include "base/error.h"
#include "base/unique_fd.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace minijail {
namespace {

void check(int rc, const std::string& step) {
    if (rc != 0) base::throw_errno(step);
}

std::string rlimit_name(int resource) {
    switch (resource) {
        case RLIMIT_NOFILE:
            return "RLIMIT_NOFILE";
        case RLIMIT_NPROC:
            return "RLIMIT_NPROC";
        case RLIMIT_FSIZE:
            return "RLIMIT_FSIZE";
        case RLIMIT_CORE:
            return "RLIMIT_CORE";
        case RLIMIT_AS:
            return "RLIMIT_AS";
        case RLIMIT_DATA:
            return "RLIMIT_DATA";
        case RLIMIT_STACK:
            return "RLIMIT_STACK";
        case RLIMIT_MEMLOCK:
            return "RLIMIT_MEMLOCK";
        case RLIMIT_CPU:
            return "RLIMIT_CPU";
        case RLIMIT_MSGQUEUE:
            return "RLIMIT_MSGQUEUE";
        case RLIMIT_SIGPENDING:
            return "RLIMIT_SIGPENDING";
        default:
            return "resource " + std::to_string(resource);
    }
}

base::UniqueFd open_for_write(const char* path) {
    base::UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
    if (!fd) base::throw_errno(std::string("open ") + path);
    return fd;
}

void write_and_close(base::UniqueFd fd, const std::string& text, const char* path) {
    const ssize_t n = write(fd.get(), text.data(), text.size());
    const int err = errno;
    if (n < 0) base::throw_errno(std::string("write ") + path, err);
    if (static_cast<size_t>(n) != text.size()) throw std::runtime_error(std::string("write ") + path + ": short write");
}

void set_pdeathsig(int sig) {
    if (sig != 0) check(prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)");
}

}  // namespace

void enter_jail(const JailSpec& spec) {
    const uid_t uid = spec.uid;
    const gid_t gid = spec.gid;
    if (uid == 0 || gid == 0) throw std::invalid_argument("enter_jail: the jail uid and gid must not be 0");
    if (geteuid() != 0)
        throw std::runtime_error("enter_jail: must start as root (euid is " + std::to_string(geteuid()) + ")");

    int pdeathsig = 0;
    check(prctl(PR_GET_PDEATHSIG, &pdeathsig, 0, 0, 0), "prctl(PR_GET_PDEATHSIG)");

    // 1. Still root in the initial user namespace.
    check(setgroups(0, nullptr), "setgroups");
    for (const auto& l : spec.rlimits) {
        rlimit r{static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)};
        check(setrlimit(static_cast<__rlimit_resource>(l.resource), &r), "setrlimit " + rlimit_name(l.resource));
    }
    check(setresgid(gid, gid, gid), "setresgid");
    check(setresuid(uid, uid, uid), "setresuid");
    set_pdeathsig(pdeathsig);

    // 2. The namespaces.
    int flags = CLONE_NEWUSER | CLONE_NEWNS;
    if (spec.new_net) flags |= CLONE_NEWNET;
    if (spec.new_ipc) flags |= CLONE_NEWIPC;
    if (spec.new_uts) flags |= CLONE_NEWUTS;
    if (spec.new_cgroup) flags |= CLONE_NEWCGROUP;
    check(unshare(flags), "unshare");

    // 3. The id maps.
    check(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE, 1)");
    base::UniqueFd setgroups_fd = open_for_write("/proc/self/setgroups");
    base::UniqueFd gid_map_fd = open_for_write("/proc/self/gid_map");
    base::UniqueFd uid_map_fd = open_for_write("/proc/self/uid_map");
    check(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE, 0)");
    write_and_close(std::move(setgroups_fd), "deny", "/proc/self/setgroups");
    write_and_close(std::move(gid_map_fd), std::to_string(gid) + " " + std::to_string(gid) + " 1\n",
                    "/proc/self/gid_map");
    write_and_close(std::move(uid_map_fd), std::to_string(uid) + " " + std::to_string(uid) + " 1\n",
                    "/proc/self/uid_map");

    // 4. The file system: an empty tmpfs becomes "/", and the host's tree is detached.
    // The tmpfs is mounted over /proc: a directory that exists wherever this code can
    // run (it has just used /proc/self), and the mount is private to the new mount
    // namespace, so the host's /proc is untouched.
    check(mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "mount / private");
    check(mount("brig-jail", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=16,mode=0755"),
          "mount tmpfs");
    check(chdir("/proc"), "chdir to the new root");
    check(static_cast<int>(syscall(SYS_pivot_root, ".", ".")), "pivot_root");
    check(umount2(".", MNT_DETACH), "umount2 old root");
    check(chdir("/"), "chdir /");
    check(mount("", "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
          "remount / read-only");

    if (spec.new_uts) check(sethostname(spec.hostname.data(), spec.hostname.size()), "sethostname");

    // 5. Capabilities. The bounding set needs CAP_SETPCAP, so it goes first.
    for (int cap = 0;; ++cap) {
        int present = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (present < 0) break;  // EINVAL: past the last capability
        if (present) check(prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
    }
    check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    check(setresgid(gid, gid, gid), "setresgid in the user namespace");
    check(setresuid(uid, uid, uid), "setresuid in the user namespace");
    cap_t empty = cap_init();
    if (!empty) base::throw_errno("cap_init");
    int rc = cap_set_proc(empty);
    int err = errno;
    cap_free(empty);
    if (rc != 0) base::throw_errno("cap_set_proc", err);
    check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
    set_pdeathsig(pdeathsig);

    // 6. Verify.
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    check(getresuid(&ru, &eu, &su), "getresuid");
    check(getresgid(&rg, &eg, &sg), "getresgid");
    if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
        throw std::runtime_error("enter_jail: verify: ids are not " + std::to_string(uid) + "/" + std::to_string(gid));
    if (getgroups(0, nullptr) != 0) throw std::runtime_error("enter_jail: verify: supplementary groups remain");
    cap_t now = cap_get_proc();
    if (!now) base::throw_errno("cap_get_proc");
    cap_t none = cap_init();
    int differ = cap_compare(now, none);
    cap_free(now);
    cap_free(none);
    if (differ != 0) throw std::runtime_error("enter_jail: verify: capabilities remain");
    for (int cap = 0;; ++cap) {
        int present = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (present < 0) break;
        if (present)
            throw std::runtime_error("enter_jail: verify: capability " + std::to_string(cap) + " in the bounding set");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
            throw std::runtime_error("enter_jail: verify: capability " + std::to_string(cap) + " is ambient");
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        throw std::runtime_error("enter_jail: verify: NO_NEW_PRIVS is not set");
    if (access("/proc/self", F_OK) == 0)
        throw std::runtime_error("enter_jail: verify: the host's file system is still visible");
}

}  // namespace minijail
