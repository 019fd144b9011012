// What an operator's host does to a running brig: stop and continue it, freeze and
// thaw its cgroup. Every thread of brig runs under its seccomp filter here (the
// default), so a syscall the kernel or glibc makes on its own after a stop
// (restart_syscall, for one) is caught: the guest must carry on and power off.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/brig_process.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

constexpr int kSpinLines = 10;

// The spin guest with every device; `act` runs once, after "spin: 2".
BrigResult run_spin_and(const std::function<void(pid_t brig)>& act, std::function<void()> in_child = {}) {
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=spin lines=" + std::to_string(kSpinLines), "--mem",
                 "64", "--console", "sink"}};
    bool done = false;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (done || out.find("spin: 2\n") == std::string::npos) return;
        done = true;
        act(pid);
    };
    run.in_child = std::move(in_child);
    run.timeout = std::chrono::seconds(40);
    return run_brig(run);
}

void require_clean_power_off(const BrigResult& r) {
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("spin: " + std::to_string(kSpinLines - 1) + "\n"));
    CHECK_THAT(r.out, Contains("spin: done"));
    CHECK_THAT(r.err, !Contains("seccomp"));
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    REQUIRE(out.good());
}

std::string read_word(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string word;
    in >> word;
    return word;
}

// A freezer cgroup of the test's own (v1 freezer, or a v2 cgroup with cgroup.freeze).
class FreezerGroup {
public:
    FreezerGroup() {
        const std::string name = "brig-test-freeze-" + std::to_string(getpid());
        if (std::filesystem::exists("/sys/fs/cgroup/freezer/tasks")) {
            path_ = std::filesystem::path("/sys/fs/cgroup/freezer") / name;
            v2_ = false;
        } else if (std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers")) {
            path_ = std::filesystem::path("/sys/fs/cgroup") / name;
            v2_ = true;
        } else {
            FAIL("this host has neither a cgroup v1 freezer nor cgroup v2: the freeze test cannot run");
        }
        std::filesystem::create_directory(path_);
    }
    ~FreezerGroup() {
        // brig and its devices have exited by now; an empty cgroup can go.
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    FreezerGroup(const FreezerGroup&) = delete;
    FreezerGroup& operator=(const FreezerGroup&) = delete;

    // In the forked child before exec: brig and every device it starts live here.
    std::function<void()> join_in_child() const {
        return [procs = (path_ / "cgroup.procs").string()] { std::ofstream(procs) << getpid() << std::endl; };
    }
    void freeze() { set(true); }
    void thaw() { set(false); }

private:
    void set(bool frozen) {
        if (v2_) {
            write_file(path_ / "cgroup.freeze", frozen ? "1" : "0");
        } else {
            write_file(path_ / "freezer.state", frozen ? "FROZEN" : "THAWED");
        }
        // Freezing takes effect asynchronously; wait until every task is frozen.
        if (!frozen) return;
        for (int i = 0; i < 200; ++i) {
            if (is_frozen()) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        FAIL("the cgroup did not freeze within 2 s");
    }
    bool is_frozen() const {
        if (!v2_) return read_word(path_ / "freezer.state") == "FROZEN";
        std::ifstream in(path_ / "cgroup.events");
        std::string key, value;
        while (in >> key >> value)
            if (key == "frozen") return value == "1";
        return false;
    }

    std::filesystem::path path_;
    bool v2_ = false;
};

}  // namespace

TEST_CASE("SIGSTOP and SIGCONT in the middle of a run: the guest carries on and powers off", "[conditions]") {
    const auto r = run_spin_and([](pid_t brig) {
        // Several stops, so that threads are caught in different syscalls.
        for (int i = 0; i < 5; ++i) {
            REQUIRE(kill(brig, SIGSTOP) == 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
            REQUIRE(kill(brig, SIGCONT) == 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    require_clean_power_off(r);
}

// brig's children whose command line starts with "brig-device KIND".
std::vector<pid_t> device_pids(pid_t brig, const std::string& kind) {
    std::vector<pid_t> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(brig) + "/task")) {
        std::ifstream children(task.path() / "children");
        pid_t child;
        while (children >> child) {
            std::ifstream cmdline("/proc/" + std::to_string(child) + "/cmdline");
            std::string argv0, argv1;
            std::getline(cmdline, argv0, '\0');
            std::getline(cmdline, argv1, '\0');
            if (argv0.find("brig-device") != std::string::npos && argv1 == kind) out.push_back(child);
        }
    }
    return out;
}

// Found by the soak (bench/soak.py): an answer deadline on the wall clock killed VMs
// whose devices had only waited for a CPU, or been stopped.
TEST_CASE("a device stopped for 2.5 s while the guest floods it is waited for, not called hung", "[conditions]") {
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=print-flood bytes=262144", "--mem", "64"}};
    bool stopped = false;
    run.on_output = [&](const std::string& out, pid_t brig) {
        if (stopped || out.size() < 4096) return;
        stopped = true;
        const auto serial = device_pids(brig, "serial");
        REQUIRE(serial.size() == 1);
        REQUIRE(kill(serial[0], SIGSTOP) == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(2500));
        REQUIRE(kill(serial[0], SIGCONT) == 0);
    };
    run.timeout = std::chrono::seconds(60);
    const BrigResult r = run_brig(run);
    INFO("stderr:\n" << r.err);
    REQUIRE(stopped);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("flood: done"));
    CHECK_THAT(r.err, !Contains("did not answer"));
}

TEST_CASE("a cgroup freeze and thaw in the middle of a run: the guest carries on and powers off", "[conditions]") {
    FreezerGroup group;
    const auto r = run_spin_and(
        [&group](pid_t) {
            for (int i = 0; i < 3; ++i) {
                group.freeze();
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
                group.thaw();
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        },
        group.join_in_child());
    require_clean_power_off(r);
}
