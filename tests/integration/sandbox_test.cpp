// The jailed serial device seen from outside, through /proc, and every way brig
// handles a device that dies or misbehaves: exit 33 with one line naming the device,
// its pid and the cause, a machine-readable --failure-file, and nothing left behind.
#include <dirent.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "ipc/device_kind.h"
#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string status_field(pid_t pid, const std::string& field) {
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind(field + ":", 0) == 0) {
            auto value = line.substr(field.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    return "<missing>";
}

// brig's children: the device processes.
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    DIR* dir = opendir("/proc");
    if (!dir) return out;
    while (dirent* e = readdir(dir)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0) continue;
        if (status_field(pid, "PPid") == std::to_string(parent)) out.push_back(pid);
    }
    closedir(dir);
    return out;
}

std::string ns_of(pid_t pid, const char* ns) {
    char buf[64] = {};
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
    const ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "<unreadable>";
}

bool process_exists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

std::string squeeze(const std::string& text) {  // "  7   7  1\n" -> "7 7 1"
    std::istringstream in(text);
    std::string word, out;
    while (in >> word) out += (out.empty() ? "" : " ") + word;
    return out;
}

// Whether no brig holds jail id `id` now (its lock file in /run/brig/ids is unlocked).
bool lock_is_free(unsigned long id) {
    const std::string path = "/run/brig/ids/" + std::to_string(id);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return free;
}

struct DeviceObservation {
    pid_t brig = 0;
    pid_t device = 0;                      // the serial device
    std::map<std::string, pid_t> by_name;  // every device process, by its device name
};

// argv of a brig-device process: brig-device KIND NAME UID GID.
std::string device_name(pid_t pid) {
    const std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::vector<std::string> parts;
    std::string part;
    for (char c : cmdline) {
        if (c == '\0') {
            parts.push_back(part);
            part.clear();
        } else {
            part += c;
        }
    }
    return parts.size() >= 3 ? parts[2] : "?";
}

// Runs the spin guest; once it prints, `act` looks at (and may kill) the device.
BrigResult run_spin_and(std::vector<std::string> extra, const std::function<void(DeviceObservation&)>& act,
                        DeviceObservation& seen, const std::string& mode = "spin",
                        std::function<void()> in_child = {}) {
    BrigRun run{guest_args(mode, std::move(extra))};
    run.in_child = std::move(in_child);
    bool done = false;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (done || out.find("spin: 1") == std::string::npos) return;
        done = true;
        seen.brig = pid;
        for (pid_t child : children_of(pid)) seen.by_name[device_name(child)] = child;
        REQUIRE(seen.by_name.count("serial") == 1);
        seen.device = seen.by_name["serial"];
        act(seen);
    };
    run.timeout = std::chrono::seconds(30);
    return run_brig(run);
}

// In brig's child before exec: a network namespace of its own with one persistent TAP,
// kTestTap, that goes away with the namespace when brig exits. Nothing touches the
// host's interfaces.
constexpr const char* kTestTap = "brignet0";
void in_namespace_with_tap() {
    ifreq request{};
    std::strncpy(request.ifr_name, kTestTap, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (unshare(CLONE_NEWNET) != 0) {
        std::perror("test: unshare(CLONE_NEWNET)");
        _exit(127);
    }
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &request) != 0 || ioctl(fd, TUNSETPERSIST, 1) != 0) {
        std::perror("test: a TAP in the test namespace");
        _exit(127);
    }
    close(fd);
}

// "FD TARGET" for each open fd of `pid`.
std::vector<std::string> fd_targets(pid_t pid) {
    std::vector<std::string> targets;
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = opendir(fd_dir.c_str());
    if (!dir) return targets;
    while (dirent* e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        char target[256] = {};
        if (readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1) > 0)
            targets.push_back(std::string(e->d_name) + " " + target);
    }
    closedir(dir);
    return targets;
}

}  // namespace

TEST_CASE("every device runs jailed: namespaces, seccomp, no privileges, no filesystem, few fds", "[sandbox]") {
    DeviceObservation seen;
    const TempImage disk_image(1 << 20);
    std::set<unsigned long> ids;
    const auto r = run_spin_and(
        {"--cpus", "2", "--disk", disk_image.path, "--console", "sink"},
        [&ids, disk = disk_image.path](DeviceObservation& all) {
            CHECK(all.by_name.size() == 4);  // serial, virtio-blk0, virtio-rng, virtio-console
            for (const auto& [name, pid] : all.by_name) {
                INFO("device " << name << " pid " << pid);
                DeviceObservation s{all.brig, pid, {}};
                for (const char* ns : {"pid", "mnt", "net", "user", "ipc", "uts", "cgroup"}) {
                    INFO("namespace " << ns);
                    CHECK(ns_of(s.device, ns) != ns_of(s.brig, ns));
                }
                CHECK(status_field(s.device, "Seccomp") == "2");
                CHECK(status_field(s.device, "NoNewPrivs") == "1");
                for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
                    INFO(caps);
                    CHECK(status_field(s.device, caps) == "0000000000000000");
                }
                // An id of its own from the default --jail-ids range, as uid and gid, real to saved.
                const std::string uid = status_field(s.device, "Uid");
                const unsigned long id = std::stoul(uid);
                CHECK(id >= 400000);
                CHECK(id <= 499999);
                CHECK(ids.insert(id).second);  // no other device of the VM has it
                const std::string all4 = std::to_string(id) + "\t" + std::to_string(id) + "\t" + std::to_string(id) +
                                         "\t" + std::to_string(id);
                CHECK(uid == all4);
                CHECK(status_field(s.device, "Gid") == all4);
                CHECK(squeeze(read_file("/proc/" + std::to_string(s.device) + "/uid_map")) ==
                      std::to_string(id) + " " + std::to_string(id) + " 1");
                CHECK(squeeze(read_file("/proc/" + std::to_string(s.device) + "/gid_map")) ==
                      std::to_string(id) + " " + std::to_string(id) + " 1");
                CHECK_FALSE(lock_is_free(id));  // brig holds it while the VM runs
                CHECK(status_field(s.device, "NSpid").find("\t1") != std::string::npos);  // pid 1 of its namespace

                struct stat host_root {
                }, device_root{};
                REQUIRE(stat("/", &host_root) == 0);
                REQUIRE(stat(("/proc/" + std::to_string(s.device) + "/root/").c_str(), &device_root) == 0);
                CHECK((host_root.st_dev != device_root.st_dev || host_root.st_ino != device_root.st_ino));

                // Only what it was handed (control socket, report pipe, irqfd, console, mailbox,
                // guest memory, the disk) and what its event loop made: no other host file.
                const std::string fd_dir = "/proc/" + std::to_string(s.device) + "/fd";
                DIR* dir = opendir(fd_dir.c_str());
                REQUIRE(dir != nullptr);
                int count = 0;
                while (dirent* e = readdir(dir)) {
                    if (e->d_name[0] == '.') continue;
                    ++count;
                    char target[256] = {};
                    REQUIRE(readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1) > 0);
                    const std::string t = target;
                    INFO("fd " << e->d_name << " -> " << t);
                    const bool allowed = t.rfind("socket:", 0) == 0 || t.rfind("pipe:", 0) == 0 ||
                                         t.rfind("anon_inode:", 0) == 0 || t.rfind("/memfd:brig", 0) == 0 ||
                                         t == "/dev/null" || t.rfind("/dev/pts/", 0) == 0 || t == disk;
                    CHECK(allowed);
                }
                closedir(dir);
                CHECK(count <= 16);

                // Its network namespace holds nothing but loopback.
                std::istringstream dev(read_file("/proc/" + std::to_string(s.device) + "/net/dev"));
                std::set<std::string> interfaces;
                std::string line;
                std::getline(dev, line);
                std::getline(dev, line);
                while (std::getline(dev, line))
                    interfaces.insert(
                        line.substr(line.find_first_not_of(' '), line.find(':') - line.find_first_not_of(' ')));
                CHECK(interfaces == std::set<std::string>{"lo"});
            }
            {
                const DeviceObservation& s = all;
                // brig itself: every thread (main, IPC, each vCPU) runs under a seccomp filter.
                const std::string task_dir = "/proc/" + std::to_string(s.brig) + "/task";
                DIR* tasks = opendir(task_dir.c_str());
                REQUIRE(tasks != nullptr);
                int threads = 0;
                while (dirent* e = readdir(tasks)) {
                    if (e->d_name[0] == '.') continue;
                    ++threads;
                    const std::string status = read_file(task_dir + "/" + e->d_name + "/status");
                    INFO("brig thread " << e->d_name << " (" << read_file(task_dir + "/" + e->d_name + "/comm") << ")");
                    CHECK(status.find("Seccomp:\t2") != std::string::npos);
                }
                closedir(tasks);
                CHECK(threads >= 4);  // main, IPC, two vCPUs
                kill(s.brig, SIGTERM);
            }
        },
        seen);
    INFO("stderr:\n" << r.err);
    REQUIRE(seen.device > 0);
    CHECK(r.exit_code == 0);
    for (const auto& [name, pid] : seen.by_name) {
        INFO(name);
        CHECK_FALSE(process_exists(pid));
    }
    CHECK(ids.size() == 4);
    for (unsigned long id : ids) CHECK(lock_is_free(id));  // released when brig exited
}

TEST_CASE("kill -9 of the serial process: exit 33 within a second, naming device, pid and signal", "[sandbox]") {
    TempFile failure;
    DeviceObservation seen;
    std::chrono::steady_clock::time_point killed;
    const auto r = run_spin_and(
        {"--failure-file", failure.path},
        [&](DeviceObservation& s) {
            killed = std::chrono::steady_clock::now();
            kill(s.device, SIGKILL);
        },
        seen);
    const auto stop_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed).count();
    INFO("stderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    CHECK(stop_ms < 1000);
    const std::string pid = std::to_string(seen.device);
    CHECK_THAT(r.err, Contains("brig: DEVICE_CRASHED: serial (pid " + pid + ") killed by SIGKILL"));
    CHECK(failure.content() == "DEVICE_CRASHED serial pid=" + pid + " signal=SIGKILL\n");
    CHECK_FALSE(process_exists(seen.device));
}

TEST_CASE("a device that makes a forbidden syscall is stopped and the syscall is named", "[sandbox]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    BrigRun run{guest_args("hook-syscall", {"--failure-file", failure.path})};
    const auto r = run_brig(run);
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    CHECK_THAT(r.err, Contains("stopped by brig for a seccomp violation: blocked syscall openat("));
    CHECK_THAT(failure.content(), StartsWith("DEVICE_CRASHED serial pid="));
    CHECK_THAT(failure.content(), Contains(" reason=seccomp syscall=openat\n"));
}

TEST_CASE("a malformed reply from a device stops brig with 33, not a crash", "[sandbox]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    const auto r = run_brig({guest_args("hook-malformed", {"--failure-file", failure.path})});
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 33);
    CHECK_THAT(r.err, Contains("serial (pid "));
    CHECK_THAT(r.err, Contains("malformed reply"));
    CHECK_THAT(failure.content(), Contains("reason=bad-reply"));
}

TEST_CASE("--failure-file records power-off, reset and signals", "[sandbox]") {
    TempFile failure;
    auto r = run_brig({guest_args("poweroff", {"--failure-file", failure.path})});
    CHECK(r.exit_code == 0);
    CHECK(failure.content() == "SHUTDOWN\n");
    r = run_brig({guest_args("reset-kbd", {"--failure-file", failure.path})});
    CHECK(r.exit_code == 32);
    CHECK(failure.content() == "REBOOT\n");
    BrigRun run{guest_args("spin", {"--failure-file", failure.path})};
    run.sigterm_after = std::chrono::milliseconds(1500);
    r = run_brig(run);
    CHECK(r.exit_code == 0);
    CHECK(failure.content() == "KILLED signal=SIGTERM\n");
}

TEST_CASE("--disable-sandbox runs the device in-process with a loud warning", "[sandbox]") {
    DeviceObservation seen;
    const auto r = run_brig({guest_args("info", {"--disable-sandbox"})});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("cpus: 1"));
    CHECK_THAT(r.err, Contains("--disable-sandbox: devices run INSIDE the brig process"));
}

TEST_CASE("--disable-sandbox starts no device process at all", "[sandbox]") {
    const TempImage disk_image(1 << 20);
    BrigRun run{guest_args("spin", {"--disable-sandbox", "--disk", disk_image.path, "--console", "sink"})};
    bool looked = false;
    std::vector<pid_t> children;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (looked || out.find("spin: 1") == std::string::npos) return;
        looked = true;
        children = children_of(pid);
        kill(pid, SIGTERM);
    };
    run.timeout = std::chrono::seconds(30);
    const auto r = run_brig(run);
    CHECK(looked);
    CHECK(children.empty());
    CHECK(r.exit_code == 0);
}

TEST_CASE("--jail-user sets the ids every device runs as, inside and outside its namespace", "[sandbox]") {
    DeviceObservation seen;
    std::string uid, gid, uid_map;
    const auto r = run_spin_and(
        {"--jail-user", "4242:4343"},
        [&](DeviceObservation& s) {
            uid = status_field(s.device, "Uid");
            gid = status_field(s.device, "Gid");
            uid_map = read_file("/proc/" + std::to_string(s.device) + "/uid_map");
            kill(s.brig, SIGTERM);
        },
        seen);
    CHECK(r.exit_code == 0);
    CHECK_THAT(uid, StartsWith("4242\t4242\t4242"));
    CHECK_THAT(gid, StartsWith("4343\t4343\t4343"));
    CHECK(std::regex_search(uid_map, std::regex(R"(^\s*4242\s+4242\s+1\s*$)")));
}

TEST_CASE("--jail-ids: two VMs never share an id; a full range is a clear error; a killed brig frees its ids",
          "[sandbox]") {
    // One device (serial), so a one-id range holds exactly one VM.
    const std::vector<std::string> one_id = {"--no-rng", "--jail-ids", "450100-450100"};
    DeviceObservation seen;
    std::string device_uid;
    BrigResult second;
    const auto first = run_spin_and(
        one_id,
        [&](DeviceObservation& s) {
            device_uid = status_field(s.device, "Uid");
            second = run_brig({guest_args("poweroff", one_id)});
            kill(s.brig, SIGKILL);  // no cleanup: the kernel drops its lock
        },
        seen);
    CHECK(first.term_signal == SIGKILL);
    CHECK_THAT(device_uid, StartsWith("450100\t"));
    INFO("second brig's stderr:\n" << second.err);
    CHECK(second.exit_code == 1);
    CHECK_THAT(
        second.err,
        Contains(
            "brig: INTERNAL_ERROR: --jail-ids 450100-450100: no free id, all 1 are held by running brig processes"));
    // Its device dies with it (parent-death signal); give the kernel a moment.
    for (int i = 0; i < 100 && process_exists(seen.device); ++i) usleep(20000);
    CHECK_FALSE(process_exists(seen.device));

    const auto third = run_brig({guest_args("poweroff", one_id)});
    INFO("third brig's stderr:\n" << third.err);
    CHECK(third.exit_code == 0);
}

TEST_CASE("--jail-ids with fewer ids than devices is refused with exit 35", "[sandbox]") {
    const TempImage disk(1 << 20);
    const auto r = run_brig({guest_args("poweroff", {"--disk", disk.path, "--jail-ids", "450200-450201"})});
    CHECK(r.exit_code == 35);
    CHECK_THAT(r.err,
               Contains("brig: INVALID_ARGUMENT: --jail-ids 450200-450201: 2 ids for 3 devices (one id per device)"));
}

namespace {
// kill(target, 0) from a child process running as uid/gid `id`: 0, or the errno.
int probe_signal_as(unsigned long id, pid_t target) {
    const pid_t child = fork();
    if (child == 0) {
        if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(id)) != 0 || setuid(static_cast<uid_t>(id)) != 0)
            _exit(100);
        _exit(kill(target, 0) == 0 ? 0 : errno);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}
}  // namespace

TEST_CASE("neither nobody nor another device's id can signal a device", "[sandbox]") {
    const TempImage disk(1 << 20);
    DeviceObservation seen;
    std::map<std::string, unsigned long> ids;
    std::map<std::string, std::map<std::string, int>> probes;  // prober's device -> target device -> result
    std::map<std::string, int> from_nobody, from_itself;
    const auto r = run_spin_and(
        {"--disk", disk.path, "--console", "sink"},
        [&](DeviceObservation& s) {
            for (const auto& [name, pid] : s.by_name) ids[name] = std::stoul(status_field(pid, "Uid"));
            for (const auto& [target, pid] : s.by_name) {
                from_nobody[target] = probe_signal_as(65534, pid);
                from_itself[target] = probe_signal_as(ids[target], pid);  // the probe itself works
                for (const auto& [prober, id] : ids)
                    if (prober != target) probes[prober][target] = probe_signal_as(id, pid);
            }
            kill(s.brig, SIGTERM);
        },
        seen);
    CHECK(r.exit_code == 0);
    REQUIRE(ids.size() == 4);
    for (const auto& [target, result] : from_nobody) {
        INFO("nobody -> " << target);
        CHECK(result == EPERM);
        CHECK(from_itself[target] == 0);
    }
    for (const auto& [prober, targets] : probes)
        for (const auto& [target, result] : targets) {
            INFO(prober << " -> " << target);
            CHECK(result == EPERM);
        }
}

TEST_CASE("a device that catches SIGSYS cannot survive its violation", "[sandbox]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    const auto r = run_brig({guest_args("hook-sigsys-handler", {"--failure-file", failure.path})});
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    CHECK_THAT(r.err, Contains("blocked syscall openat("));
    CHECK_THAT(failure.content(), StartsWith("DEVICE_CRASHED serial pid="));
    CHECK_THAT(failure.content(), Contains(" reason=seccomp syscall=openat\n"));
}

TEST_CASE("a device's forged violation report changes nothing: the kernel names the syscall", "[sandbox]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    const auto r = run_brig({guest_args("hook-forged-report", {"--failure-file", failure.path})});
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    CHECK_THAT(r.err, Contains("blocked syscall getppid("));
    CHECK_THAT(failure.content(), Contains(" reason=seccomp syscall=getppid\n"));
    CHECK_THAT(failure.content(), !Contains("ptrace"));
}

TEST_CASE("no device holds brig's stdin, stdout or stderr: each has pipes of its own", "[sandbox]") {
    DeviceObservation seen;
    std::map<std::string, std::vector<std::string>> shared;  // device -> brig's fds it also holds
    const auto r = run_spin_and(
        {"--console", "stdout"},
        [&](DeviceObservation& all) {
            std::set<std::string> brig_stdio;
            for (int fd : {0, 1, 2}) {
                char target[256] = {};
                const std::string link = "/proc/" + std::to_string(all.brig) + "/fd/" + std::to_string(fd);
                REQUIRE(readlink(link.c_str(), target, sizeof target - 1) > 0);
                brig_stdio.insert(target);
            }
            for (const auto& [name, pid] : all.by_name) {
                const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
                DIR* d = opendir(dir.c_str());
                REQUIRE(d != nullptr);
                shared[name];  // every device is looked at
                while (dirent* e = readdir(d)) {
                    if (e->d_name[0] == '.') continue;
                    char target[256] = {};
                    if (readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1) <= 0) continue;
                    if (brig_stdio.count(target)) shared[name].push_back(std::string(e->d_name) + " -> " + target);
                }
                closedir(d);
            }
            kill(all.brig, SIGTERM);
        },
        seen);
    REQUIRE(r.exit_code == 0);
    CHECK(shared.size() == 3);  // serial, virtio-rng, virtio-console
    for (const auto& [name, fds] : shared) {
        INFO(name);
        CHECK(fds.empty());
    }
}

TEST_CASE("a device's log text reaches the operator marked, printable and rate-limited", "[sandbox]") {
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    const auto r = run_brig({guest_args("hook-forged-log")});
    INFO("stderr:\n" << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("hook: sent"));
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK_THAT(r.err, Contains("[serial] device: [12:00:00.000] info [board] guest powered off via acpi"));
    size_t flood = 0;
    for (const auto& line : r.err_lines()) {
        INFO(line);
        CHECK_FALSE(line.rfind("[12:00:00.000]", 0) == 0);  // no line passes for brig's own
        CHECK_FALSE(line.rfind("brig: SHUTDOWN: forged", 0) == 0);
        if (line.find("device: flood line") != std::string::npos) ++flood;
    }
    // A burst, then a count: far fewer than the 1000 lines it wrote.
    CHECK(flood <= 60);
    CHECK_THAT(r.err, Contains("lines from the device were not shown"));
}

namespace {
// From outside, as a debugger would: stops `tid` (a device thread waiting in a syscall)
// and makes it issue syscall `nr` instead. Its own code never asked for that syscall.
std::string inject_syscall(pid_t tid, long nr) {
    if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) return std::string("PTRACE_SEIZE: ") + strerror(errno);
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) return std::string("PTRACE_INTERRUPT: ") + strerror(errno);
    int status = 0;
    if (waitpid(tid, &status, __WALL) != tid) return std::string("waitpid: ") + strerror(errno);
    user_regs_struct regs{};
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0) return std::string("PTRACE_GETREGS: ") + strerror(errno);
    // Stopped inside a syscall: rip is just past its two-byte `syscall` (0f 05).
    errno = 0;
    const long text = ptrace(PTRACE_PEEKTEXT, tid, regs.rip - 2, 0);
    if (errno != 0 || (text & 0xffff) != 0x050f) return "the thread is not in a syscall";
    regs.rip -= 2;
    regs.rax = static_cast<unsigned long long>(nr);
    regs.orig_rax = static_cast<unsigned long long>(-1);  // no restart of the interrupted one
    if (ptrace(PTRACE_SETREGS, tid, 0, &regs) != 0) return std::string("PTRACE_SETREGS: ") + strerror(errno);
    if (ptrace(PTRACE_DETACH, tid, 0, 0) != 0) return std::string("PTRACE_DETACH: ") + strerror(errno);
    return "";
}
}  // namespace

TEST_CASE("a violation made from outside with ptrace is named from the kernel's account", "[sandbox]") {
    TempFile failure;
    DeviceObservation seen;
    std::string injected = "not run";
    const auto r = run_spin_and(
        {"--failure-file", failure.path},
        [&](DeviceObservation& s) { injected = inject_syscall(s.device, SYS_getppid); }, seen);
    INFO("stderr:\n" << r.err);
    REQUIRE(injected.empty());
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    CHECK_THAT(r.err, Contains("blocked syscall getppid("));
    CHECK(failure.content() ==
          "DEVICE_CRASHED serial pid=" + std::to_string(seen.device) + " reason=seccomp syscall=getppid\n");
}

TEST_CASE("virtio-net is jailed like every device and holds the TAP and nothing more, at fd 33", "[sandbox]") {
    REQUIRE(access("/dev/net/tun", R_OK | W_OK) == 0);
    DeviceObservation seen;
    const auto r = run_spin_and(
        {"--net", std::string("tap-name=") + kTestTap},
        [](DeviceObservation& all) {
            REQUIRE(all.by_name.count("virtio-net0") == 1);
            REQUIRE(all.by_name.count("virtio-rng") == 1);
            const pid_t net = all.by_name["virtio-net0"];
            for (const char* ns : {"pid", "mnt", "net", "user", "ipc", "uts", "cgroup"}) {
                INFO("namespace " << ns);
                CHECK(ns_of(net, ns) != ns_of(all.brig, ns));
            }
            CHECK(status_field(net, "Seccomp") == "2");
            CHECK(status_field(net, "NoNewPrivs") == "1");
            CHECK(status_field(net, "CapEff") == "0000000000000000");
            // The virtio common set (as virtio-rng holds it, with an ioeventfd per queue),
            // and the TAP at its slot.
            const auto net_fds = fd_targets(net), rng_fds = fd_targets(all.by_name["virtio-rng"]);
            const size_t more_queues =
                brig::ipc::kinds::kVirtioNet.queue_count - brig::ipc::kinds::kVirtioRng.queue_count;
            std::string listing;
            for (const auto& fd : net_fds) listing += fd + "\n";
            INFO("virtio-net0 fds:\n" << listing);
            CHECK(net_fds.size() == rng_fds.size() + more_queues + 1);
            CHECK(std::count(net_fds.begin(), net_fds.end(), "33 /dev/net/tun") == 1);
            for (const auto& fd : net_fds) {
                const std::string t = fd.substr(fd.find(' ') + 1);
                const bool allowed = t.rfind("socket:", 0) == 0 || t.rfind("pipe:", 0) == 0 ||
                                     t.rfind("anon_inode:", 0) == 0 || t.rfind("/memfd:brig", 0) == 0 ||
                                     t == "/dev/null" || fd == "33 /dev/net/tun";
                CHECK(allowed);
            }
            // Sockets: the control and report sockets every device is born with, no more.
            auto sockets = [](const std::vector<std::string>& fds) {
                return std::count_if(fds.begin(), fds.end(),
                                     [](const std::string& f) { return f.find(" socket:") != std::string::npos; });
            };
            CHECK(sockets(net_fds) == sockets(rng_fds));
            kill(all.brig, SIGTERM);
        },
        seen, "spin", in_namespace_with_tap);
    INFO("stderr:\n" << r.err);
    REQUIRE(seen.brig > 0);
    CHECK(r.exit_code == 0);
}

TEST_CASE("kill -9 of the virtio-net process: exit 33 naming it", "[sandbox]") {
    REQUIRE(access("/dev/net/tun", R_OK | W_OK) == 0);
    TempFile failure;
    DeviceObservation seen;
    pid_t net = 0;
    const auto r = run_spin_and(
        {"--net", std::string("tap-name=") + kTestTap, "--failure-file", failure.path},
        [&net](DeviceObservation& s) {
            REQUIRE(s.by_name.count("virtio-net0") == 1);
            net = s.by_name["virtio-net0"];
            kill(net, SIGKILL);
        },
        seen, "spin", in_namespace_with_tap);
    INFO("stderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    const std::string pid = std::to_string(net);
    CHECK_THAT(r.err, Contains("brig: DEVICE_CRASHED: virtio-net0 (pid " + pid + ") killed by SIGKILL"));
    CHECK(failure.content() == "DEVICE_CRASHED virtio-net0 pid=" + pid + " signal=SIGKILL\n");
}

namespace {
// RLIMIT_NOFILE's soft limit of `pid`, from /proc/PID/limits.
std::string open_files_limit(pid_t pid) {
    std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(limits, line)) {
        if (line.rfind("Max open files", 0) != 0) continue;
        std::istringstream words(line.substr(std::string("Max open files").size()));
        std::string soft;
        words >> soft;
        return soft;
    }
    return "";
}

// The Seccomp field of brig's thread named `comm` ("brig-vsock"), or "" when there is none.
std::string thread_seccomp(pid_t brig, const std::string& comm) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(brig) + "/task")) {
        std::ifstream name(task.path() / "comm");
        std::string text;
        std::getline(name, text);
        if (text != comm) continue;
        std::ifstream status(task.path() / "status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("Seccomp:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 8));
    }
    return "";
}
}  // namespace

TEST_CASE("virtio-vsock is jailed like every device, holds no host socket of its own, and brig's broker is filtered",
          "[sandbox][vsock]") {
    TempDir dir;
    DeviceObservation seen;
    const auto r = run_spin_and(
        {"--vsock", "cid=3,socket=" + (dir.path / "vm.sock").string()},
        [](DeviceObservation& all) {
            REQUIRE(all.by_name.count("virtio-vsock") == 1);
            REQUIRE(all.by_name.count("virtio-rng") == 1);
            const pid_t vsock = all.by_name["virtio-vsock"];
            for (const char* ns : {"pid", "mnt", "net", "user", "ipc", "uts", "cgroup"}) {
                INFO("namespace " << ns);
                CHECK(ns_of(vsock, ns) != ns_of(all.brig, ns));
            }
            CHECK(status_field(vsock, "Seccomp") == "2");
            CHECK(status_field(vsock, "NoNewPrivs") == "1");
            CHECK(status_field(vsock, "CapEff") == "0000000000000000");
            // The virtio common set with an ioeventfd per queue, and nothing else: host
            // sockets arrive only when a connection is made.
            const auto vsock_fds = fd_targets(vsock), rng_fds = fd_targets(all.by_name["virtio-rng"]);
            const size_t more_queues =
                brig::ipc::kinds::kVirtioVsock.queue_count - brig::ipc::kinds::kVirtioRng.queue_count;
            CHECK(vsock_fds.size() == rng_fds.size() + more_queues);
            // Room for its connections, and no more.
            CHECK(open_files_limit(vsock) == std::to_string(64 + brig::ipc::device_contract::kVsockMaxConnections));
            CHECK(open_files_limit(all.by_name["virtio-rng"]) == "64");
            CHECK(thread_seccomp(all.brig, "brig-vsock") == "2");
            kill(all.brig, SIGTERM);
        },
        seen);
    INFO("stderr:\n" << r.err);
    REQUIRE(seen.brig > 0);
    CHECK(r.exit_code == 0);
}

TEST_CASE("kill -9 of the virtio-vsock process: exit 33 naming it", "[sandbox][vsock]") {
    TempDir dir;
    TempFile failure;
    DeviceObservation seen;
    pid_t vsock = 0;
    const auto r = run_spin_and(
        {"--vsock", "cid=3,socket=" + (dir.path / "vm.sock").string(), "--failure-file", failure.path},
        [&vsock](DeviceObservation& s) {
            REQUIRE(s.by_name.count("virtio-vsock") == 1);
            vsock = s.by_name["virtio-vsock"];
            kill(vsock, SIGKILL);
        },
        seen);
    INFO("stderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    const std::string pid = std::to_string(vsock);
    CHECK_THAT(r.err, Contains("brig: DEVICE_CRASHED: virtio-vsock (pid " + pid + ") killed by SIGKILL"));
    CHECK(failure.content() == "DEVICE_CRASHED virtio-vsock pid=" + pid + " signal=SIGKILL\n");
}
