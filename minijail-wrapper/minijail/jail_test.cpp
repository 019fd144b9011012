// The jail tests run the unit-test binary itself as the jailed helper: the parent
// spawns /proc/self/exe with argv[1] == kHelperFlag, and a constructor below turns
// that process into the helper before Catch2's main() ever runs. These tests need root.
#include "minijail-wrapper/minijail/jail.h"
#include "minijail-wrapper/minijail/policy.h"
#include "minijail-wrapper/minijail/spawn.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace {

constexpr const char* kHelperFlag = "--minijail-jail-test-helper";

void write_all(int fd, const std::string& s) {
    ssize_t ignored = write(fd, s.data(), s.size());
    (void)ignored;
}

minijail::JailSpec helper_spec() {
    minijail::JailSpec spec;
    spec.hostname = "jail-test";
    spec.rlimits = {{RLIMIT_NOFILE, 32, 32}, {RLIMIT_CORE, 0, 0}, {RLIMIT_FSIZE, 1 << 20, 1 << 20}};
    return spec;
}

// fd 3: read until EOF, then exit 0. fd 4: a one-line report, "ready ..." or "error: ...".
[[noreturn]] void helper_main(const std::string& mode) {
    try {
        auto filter = minijail::compile_policy(
            minijail::parse_policy_text("read: 1\nwrite: 1\nexit_group: 1\nexit: 1\n", "helper.policy"),
            minijail::DefaultAction::Trap);
        auto spec = helper_spec();
        if (mode == "bad-rlimit") spec.rlimits.push_back({RLIMIT_NOFILE, 64, 16});  // soft above hard
        minijail::enter_jail(spec);
        int pdeathsig = 0;
        prctl(PR_GET_PDEATHSIG, &pdeathsig, 0, 0, 0);
        char host[64] = {};
        gethostname(host, sizeof host - 1);
        std::string report = "ready pdeathsig=" + std::to_string(pdeathsig) + " hostname=" + host +
                             " pid=" + std::to_string(getpid()) + "\n";
        minijail::install_filter(filter, false);
        write_all(4, report);
    } catch (const std::exception& e) {
        write_all(4, std::string("error: ") + e.what() + "\n");
        _exit(1);
    }
    char buf[16];
    while (read(3, buf, sizeof buf) > 0) {}
    _exit(0);
}

// glibc passes (argc, argv, envp) to ELF constructors.
__attribute__((constructor)) void maybe_run_helper(int argc, char** argv, char**) {
    if (argc >= 3 && std::strcmp(argv[1], kHelperFlag) == 0) helper_main(argv[2]);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string link(const std::string& path) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(path, ec);
    return ec ? "(" + ec.message() + ")" : target.string();
}

std::map<std::string, std::string> status_fields(pid_t pid) {
    std::map<std::string, std::string> fields;
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        fields[line.substr(0, colon)] = value;
    }
    return fields;
}

struct Helper {
    minijail::SpawnedProcess proc;
    int command_write = -1;  // closing it lets the helper exit
    std::string report;

    explicit Helper(const std::string& mode, std::vector<int>* kept_out = nullptr) {
        int command[2], reply[2];
        REQUIRE(pipe2(command, O_CLOEXEC) == 0);
        REQUIRE(pipe2(reply, O_CLOEXEC) == 0);
        std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
        minijail::SpawnSpec spec;
        spec.executable = self;
        spec.argv = {self, kHelperFlag, mode};
        spec.keep_fds = {command[0], reply[1]};
        proc = minijail::spawn_in_new_pid_namespace(spec);
        if (kept_out) {
            // Keep our copies so the test can compare them with the child's fds.
            kept_out->clear();
            kept_out->push_back(command[0]);
            kept_out->push_back(reply[1]);
        } else {
            close(command[0]);
            close(reply[1]);
        }
        command_write = command[1];
        char buf[512];
        ssize_t n = 0;
        // The helper's write end stays open in the test when kept_out is used, so read one line.
        while ((n = read(reply[0], buf, sizeof buf)) > 0) {
            report.append(buf, static_cast<size_t>(n));
            if (report.find('\n') != std::string::npos) break;
        }
        close(reply[0]);
    }

    int finish() {
        if (command_write >= 0) close(command_write);
        command_write = -1;
        int status = -1;
        if (proc.pid > 0) {
            REQUIRE(waitpid(proc.pid, &status, 0) == proc.pid);
            proc.pidfd.reset();
            proc.pid = -1;
        }
        return status;
    }
    ~Helper() {
        if (proc.pid > 0) {
            kill(proc.pid, SIGKILL);
            finish();
        }
    }
};

}  // namespace

TEST_CASE("a spawned process that entered the jail is confined, seen from outside", "[jail]") {
    REQUIRE(geteuid() == 0);
    std::vector<int> ours;
    Helper helper("jail", &ours);
    INFO("helper report: " << helper.report);
    REQUIRE(helper.report.rfind("ready ", 0) == 0);
    CHECK_THAT(helper.report, Catch::Matchers::Contains("pdeathsig=9 hostname=jail-test pid=1\n"));
    const std::string proc = "/proc/" + std::to_string(helper.proc.pid);

    auto st = status_fields(helper.proc.pid);
    CHECK(st["Seccomp"] == "2");
    CHECK(st["NoNewPrivs"] == "1");
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
        INFO(set);
        CHECK(st[set] == "0000000000000000");
    }
    CHECK(st["Uid"] == "65534\t65534\t65534\t65534");
    CHECK(st["Gid"] == "65534\t65534\t65534\t65534");
    CHECK(st["Groups"] == "");
    CHECK(read_file(proc + "/uid_map").find("65534      65534          1") != std::string::npos);

    for (const char* ns : {"pid", "mnt", "net", "user", "ipc", "uts", "cgroup"}) {
        INFO(ns);
        std::string theirs = link(proc + "/ns/" + ns);
        CHECK(theirs.rfind(std::string(ns) + ":[", 0) == 0);
        CHECK(theirs != link(std::string("/proc/self/ns/") + ns));
    }

    struct stat host_root {
    }, jail_root{};
    REQUIRE(stat("/", &host_root) == 0);
    REQUIRE(stat((proc + "/root/").c_str(), &jail_root) == 0);
    CHECK((host_root.st_dev != jail_root.st_dev || host_root.st_ino != jail_root.st_ino));
    CHECK(std::filesystem::is_empty(proc + "/root/"));

    // One mount, the tmpfs root, read-only.
    std::string mountinfo = read_file(proc + "/mountinfo");
    INFO("mountinfo: " << mountinfo);
    CHECK(std::count(mountinfo.begin(), mountinfo.end(), '\n') == 1);
    std::istringstream fields(mountinfo);
    std::string id, parent, devno, root, mountpoint, options;
    fields >> id >> parent >> devno >> root >> mountpoint >> options;
    CHECK(mountpoint == "/");
    CHECK(options.rfind("ro,nosuid,nodev,noexec", 0) == 0);
    CHECK(mountinfo.find(" - tmpfs ") != std::string::npos);

    // fds: /dev/null on 0 and 1, our stderr on 2, the kept fds on 3 and 4, nothing else.
    std::set<int> fds;
    for (const auto& e : std::filesystem::directory_iterator(proc + "/fd")) fds.insert(std::stoi(e.path().filename()));
    CHECK(fds == std::set<int>{0, 1, 2, 3, 4});
    CHECK(link(proc + "/fd/0") == "/dev/null");
    CHECK(link(proc + "/fd/1") == "/dev/null");
    CHECK(link(proc + "/fd/2") == link("/proc/self/fd/2"));
    CHECK(link(proc + "/fd/3") == link("/proc/self/fd/" + std::to_string(ours[0])));
    CHECK(link(proc + "/fd/4") == link("/proc/self/fd/" + std::to_string(ours[1])));
    close(ours[0]);
    close(ours[1]);

    // Only the loopback device in the network namespace.
    std::istringstream netdev(read_file(proc + "/net/dev"));
    std::vector<std::string> interfaces;
    std::string line;
    std::getline(netdev, line);
    std::getline(netdev, line);
    while (std::getline(netdev, line)) {
        auto colon = line.find(':');
        auto name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        interfaces.push_back(name);
    }
    CHECK(interfaces == std::vector<std::string>{"lo"});

    std::string limits = read_file(proc + "/limits");
    CHECK(limits.find("Max open files            32                   32") != std::string::npos);
    CHECK(limits.find("Max core file size        0                    0") != std::string::npos);

    // The helper's seccomp filter lets it read fd 3 to EOF and exit normally.
    int status = helper.finish();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a failed jail step is reported with its name and errno", "[jail]") {
    REQUIRE(geteuid() == 0);
    Helper helper("bad-rlimit");
    CHECK(helper.report == "error: setrlimit RLIMIT_NOFILE: EINVAL (Invalid argument)\n");
    int status = helper.finish();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("spawning a missing executable throws with the exec errno", "[jail]") {
    minijail::SpawnSpec spec;
    spec.executable = "/nonexistent/brig-device";
    spec.argv = {"brig-device"};
    CHECK_THROWS_WITH(minijail::spawn_in_new_pid_namespace(spec),
                      "exec /nonexistent/brig-device: ENOENT (No such file or directory)");
    char tmpl[] = "/tmp/minijail-spawn-test-XXXXXX";
    int fd = mkstemp(tmpl);  // mode 0600: not executable, even for root
    REQUIRE(fd >= 0);
    close(fd);
    spec.executable = tmpl;
    CHECK_THROWS_WITH(minijail::spawn_in_new_pid_namespace(spec),
                      std::string("exec ") + tmpl + ": EACCES (Permission denied)");
    unlink(tmpl);
    spec.executable = "relative/path";
    CHECK_THROWS_AS(minijail::spawn_in_new_pid_namespace(spec), std::invalid_argument);
}

TEST_CASE("spawn remaps kept fds in order, even when they overlap their targets", "[jail]") {
    // Make fds 3 and 4 exist and keep them swapped: 4 must become 3 and 3 become 4.
    int a[2];
    REQUIRE(pipe2(a, O_CLOEXEC) == 0);
    if (fcntl(3, F_GETFD) < 0 && fcntl(4, F_GETFD) < 0) {
        REQUIRE(dup3(a[0], 3, O_CLOEXEC) == 3);
        REQUIRE(dup3(a[1], 4, O_CLOEXEC) == 4);
        close(a[0]);
        close(a[1]);
        a[0] = 3;
        a[1] = 4;
    }
    minijail::SpawnSpec spec;
    spec.executable = "/bin/sh";
    spec.argv = {"sh", "-c", "readlink /proc/self/fd/3 /proc/self/fd/4; ls /proc/self/fd | wc -l"};
    spec.keep_fds = {a[1], a[0]};
    int out[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    spec.stdout_fd = out[1];
    auto p = minijail::spawn_in_new_pid_namespace(spec);
    close(out[1]);
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    REQUIRE(waitpid(p.pid, &status, 0) == p.pid);
    p.pidfd.reset();
    std::string expected =
        link("/proc/self/fd/" + std::to_string(a[1])) + "\n" + link("/proc/self/fd/" + std::to_string(a[0])) + "\n";
    CHECK(text.rfind(expected, 0) == 0);
    // 0-4 plus the fd ls opens for /proc/self/fd
    CHECK(text.substr(expected.size()) == "6\n");
    CHECK(WIFEXITED(status));
    close(a[0]);
    close(a[1]);
}

TEST_CASE("spawn: the child joins its cgroups (writes 0 to each cgroup.procs) before it executes", "[jail]") {
    // A pipe stands in for cgroup.procs: what the child writes there is what it would
    // write to the kernel; the program it runs prints after the write was done.
    int procs[2];
    REQUIRE(pipe2(procs, O_CLOEXEC) == 0);
    minijail::SpawnSpec spec;
    spec.executable = "/bin/true";
    spec.argv = {"true"};
    spec.join_cgroup_fds = {procs[1], procs[1]};
    auto p = minijail::spawn_in_new_pid_namespace(spec);
    int status = 0;
    REQUIRE(waitpid(p.pid, &status, 0) == p.pid);
    p.pidfd.reset();
    close(procs[1]);
    char buf[8] = {};
    CHECK(read(procs[0], buf, sizeof buf) == 2);
    CHECK(std::string(buf) == "00");
    close(procs[0]);

    // A cgroup it cannot join: spawn fails, naming the step, and nothing runs.
    const int read_only = open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(read_only >= 0);
    spec.join_cgroup_fds = {read_only};
    CHECK_THROWS_WITH(minijail::spawn_in_new_pid_namespace(spec),
                      "child: join cgroup (write cgroup.procs): EBADF (Bad file descriptor)");
    close(read_only);
}
