// A device's memory is bounded: RLIMIT_DATA per device kind always, and with
// --cgroup-parent a cgroup of its own with a memory and a task limit. The test device
// (brig-device-test) allocates and touches memory on request (guest mode hook-alloc)
// until that fails; brig must stop with exit 33 naming the device, its pid and why.
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

std::string show_json(const std::string& kind) {
    const auto r = run_brig({{"policy", "show", kind, "--json"}});
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// A number from `brig policy show KIND --json`, found by a regex with one group.
uint64_t shown_number(const std::string& kind, const std::string& pattern) {
    const std::string json = show_json(kind);
    std::smatch m;
    REQUIRE(std::regex_search(json, m, std::regex(pattern)));
    return std::stoull(m[1]);
}

uint64_t shown_rlimit_data(const std::string& kind) {
    return shown_number(kind, R"re("name"\s*:\s*"RLIMIT_DATA"\s*,\s*"soft"\s*:\s*(\d+))re");
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> argv_of(pid_t pid) {
    std::vector<std::string> words(1);
    for (char c : slurp("/proc/" + std::to_string(pid) + "/cmdline")) {
        if (c == '\0')
            words.emplace_back();
        else
            words.back() += c;
    }
    return words;
}

// brig's device processes by device name (argv: brig-device KIND NAME ...).
std::map<std::string, pid_t> devices_of(pid_t brig) {
    std::map<std::string, pid_t> out;
    DIR* proc = opendir("/proc");
    while (dirent* e = readdir(proc)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0) continue;
        std::istringstream status(slurp("/proc/" + std::to_string(pid) + "/status"));
        for (std::string line; std::getline(status, line);)
            if (line.rfind("PPid:", 0) == 0 && std::stoi(line.substr(5)) == brig) {
                const auto words = argv_of(pid);
                if (words.size() > 2) out[words[2]] = pid;
            }
    }
    closedir(proc);
    return out;
}

// The host's cgroup layout, as the tests see it: v1 memory and pids hierarchies
// (these machines) or v2.
struct CgroupLayout {
    bool v1 = std::filesystem::exists("/sys/fs/cgroup/memory/cgroup.procs");
    std::string memory_root() const { return v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup"; }
    std::string pids_root() const { return v1 ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup"; }
    std::string memory_limit_file() const { return v1 ? "memory.limit_in_bytes" : "memory.max"; }
    // A process's cgroup path in the hierarchy of `controller` ("" for v2).
    std::string path_of(pid_t pid, const std::string& controller) const {
        std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
        for (std::string line; std::getline(in, line);) {
            const auto first = line.find(':'), second = line.find(':', first + 1);
            const std::string controllers = line.substr(first + 1, second - first - 1);
            if (v1 ? ("," + controllers + ",").find("," + controller + ",") != std::string::npos
                   : line.rfind("0::", 0) == 0)
                return line.substr(second + 1);
        }
        return "<none>";
    }
};

// A --cgroup-parent below the test's own cgroup, and the directories it becomes;
// removed at the end (brig leaves the parent, which is the operator's).
struct CgroupParent {
    CgroupLayout layout;
    std::string name = "brig-test-" + std::to_string(getpid());
    std::vector<std::string> dirs() const {
        const pid_t self = getpid();
        if (!layout.v1) return {layout.memory_root() + layout.path_of(self, "") + "/" + name};
        return {layout.memory_root() + layout.path_of(self, "memory") + "/" + name,
                layout.pids_root() + layout.path_of(self, "pids") + "/" + name};
    }
    ~CgroupParent() {
        for (const auto& dir : dirs()) rmdir(dir.c_str());
    }
};

uint64_t number_in(const std::string& path) {
    const std::string text = slurp(path);
    return text.empty() ? 0 : std::stoull(text);
}

}  // namespace

TEST_CASE("a device cannot grow past its RLIMIT_DATA: the allocation fails and brig exits 33 naming it", "[sandbox]") {
    const uint64_t limit = shown_rlimit_data("serial");
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    BrigRun run{guest_args("hook-alloc", {"--failure-file", failure.path})};
    run.timeout = std::chrono::seconds(30);
    const auto r = run_brig(run);
    INFO("stdout:\n" << r.out.substr(0, 2000) << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    std::smatch m;
    REQUIRE(std::regex_search(r.err, m, std::regex(R"(test hook: allocated (\d+) MiB before an allocation failed)")));
    const uint64_t got = std::stoull(m[1]) * kMiB;
    CHECK(got >= 8 * kMiB);  // the hook ran and the heap works below the bound
    CHECK(got < limit);      // and never past it
    REQUIRE(std::regex_search(
        r.err, m, std::regex(R"(DEVICE_CRASHED: serial \(pid (\d+)\) exited with status 3 \(out of memory)")));
    CHECK(failure.content() == "DEVICE_CRASHED serial pid=" + m[1].str() + " exit=3 reason=memory-limit\n");
}

TEST_CASE("--cgroup-parent: each device in a cgroup of its own with its limits; removed when brig exits", "[sandbox]") {
    const CgroupParent parent;
    const TempImage disk(1 << 20);
    const uint64_t guest_memory = 64 * kMiB;  // guest_args' --mem 64
    BrigRun run{guest_args("spin", {"--disk", disk.path, "--console", "sink", "--cgroup-parent", parent.name})};
    std::map<std::string, pid_t> devices;
    std::vector<std::string> leaves;
    pid_t brig = 0;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (brig || out.find("spin: 1") == std::string::npos) return;
        brig = pid;
        devices = devices_of(pid);
        for (const auto& [name, device] : devices) {
            INFO("device " << name << " pid " << device);
            const std::string kind = argv_of(device).at(1);
            const std::string leaf = "/" + parent.name + "/brig-" + std::to_string(pid) + "-" + name;
            const std::string memory_path = parent.layout.path_of(device, "memory");
            const std::string pids_path = parent.layout.path_of(device, "pids");
            CHECK_THAT(memory_path, Catch::Matchers::EndsWith(leaf));
            CHECK_THAT(pids_path, Catch::Matchers::EndsWith(leaf));
            const std::string memory_dir = parent.layout.memory_root() + memory_path;
            const std::string pids_dir = parent.layout.pids_root() + pids_path;
            leaves.push_back(memory_dir);
            leaves.push_back(pids_dir);
            // The limits are the table's (`brig policy show`), plus the guest's memory for
            // a device that maps it.
            const uint64_t memory = shown_number(kind, R"re("cgroup"\s*:\s*\{\s*"memory_bytes"\s*:\s*(\d+))re");
            const bool plus_guest =
                std::regex_search(show_json(kind), std::regex(R"re("plus_guest_memory"\s*:\s*true)re"));
            CHECK(plus_guest == (kind != "serial"));  // every virtio device maps guest memory
            const uint64_t pids = shown_number(kind, R"re("pids"\s*:\s*(\d+)\s*\})re");
            const uint64_t expected = memory + (plus_guest ? guest_memory : 0);
            CHECK(number_in(memory_dir + "/" + parent.layout.memory_limit_file()) == expected);
            CHECK(number_in(pids_dir + "/pids.max") == pids);
            CHECK(pids == 16);
            // The device is the only process there.
            CHECK(number_in(memory_dir + "/cgroup.procs") == static_cast<uint64_t>(device));
        }
        kill(pid, SIGTERM);
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 0);
    CHECK(devices.size() == 4);
    REQUIRE(leaves.size() == 8);
    for (const auto& leaf : leaves) {
        INFO(leaf);
        CHECK_FALSE(std::filesystem::exists(leaf));
    }
}

TEST_CASE("--cgroup-parent: a device over its cgroup's memory is OOM-killed; exit 33 with reason=memory-limit",
          "[sandbox]") {
    const CgroupParent parent;
    const DeviceBinary test_device(env_or_fail("BRIG_DEVICE_TEST_BINARY"));
    TempFile failure;
    BrigRun run{guest_args("hook-alloc", {"--failure-file", failure.path, "--cgroup-parent", parent.name})};
    run.timeout = std::chrono::seconds(30);
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 33);
    // The cgroup's limit (24 MiB) is below what RLIMIT_DATA allows, so the kernel's OOM
    // killer, not a failed allocation, ends it.
    CHECK_THAT(r.err, !Contains("before an allocation failed"));
    std::smatch m;
    REQUIRE(std::regex_search(
        r.err, m,
        std::regex(
            R"(DEVICE_CRASHED: serial \(pid (\d+)\) killed by SIGKILL \(out of memory: the OOM killer of its cgroup, limit 24 MiB\))")));
    CHECK(failure.content() == "DEVICE_CRASHED serial pid=" + m[1].str() + " signal=SIGKILL reason=memory-limit\n");
    // Its cgroups are gone: the parents hold nothing.
    for (const auto& dir : parent.dirs()) {
        INFO(dir);
        REQUIRE(std::filesystem::is_directory(dir));
        for (const auto& entry : std::filesystem::directory_iterator(dir)) CHECK_FALSE(entry.is_directory());
    }
}

TEST_CASE("--cgroup-parent without cgroups mounted is a clear error", "[sandbox]") {
    BrigRun run{guest_args("poweroff", {"--cgroup-parent", "brig-test-none"})};
    // A mount namespace of the test's own in which /proc/self/mountinfo lists no cgroup.
    run.in_child = [] {
        if (unshare(CLONE_NEWNS) != 0 || mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            umount2("/sys/fs/cgroup", MNT_DETACH) != 0)
            _exit(99);
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 35);
    CHECK_THAT(r.err, Contains("brig: INVALID_ARGUMENT: --cgroup-parent: this host has neither cgroup v2 with the "
                               "memory and pids controllers"));
}
