// The vCPUs' shape on the host: --cpu-affinity, read back from /proc.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

// Cpus_allowed_list of each of brig's threads named brig-vcpuN, by N.
std::map<std::string, std::string> vcpu_affinity(pid_t brig) {
    std::map<std::string, std::string> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(brig) + "/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (name.rfind("brig-vcpu", 0) != 0) continue;
        std::ifstream status(task.path() / "status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("Cpus_allowed_list:", 0) == 0) out[name] = line.substr(line.find_first_not_of(" \t", 18));
    }
    return out;
}

std::map<std::string, std::string> observe(const std::vector<std::string>& flags) {
    std::map<std::string, std::string> seen;
    std::vector<std::string> args = {"--cpus", "2"};
    args.insert(args.end(), flags.begin(), flags.end());
    BrigRun run{guest_args("spin", args)};
    run.timeout = std::chrono::seconds(30);
    bool done = false;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (done || out.find("spin: 1\n") == std::string::npos) return;
        done = true;
        seen = vcpu_affinity(pid);
        kill(pid, SIGTERM);
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(r.exit_code == 0);
    return seen;
}

}  // namespace

TEST_CASE("--cpu-affinity pins every vCPU thread, or each its own", "[cpu-shape]") {
    const unsigned cpus = std::thread::hardware_concurrency();
    REQUIRE(cpus >= 2);
    auto each = observe({"--cpu-affinity", "0=1:1=0"});
    CHECK(each["brig-vcpu0"] == "1");
    CHECK(each["brig-vcpu1"] == "0");
    auto all = observe({"--cpu-affinity", "1"});
    CHECK(all["brig-vcpu0"] == "1");
    CHECK(all["brig-vcpu1"] == "1");
    auto none = observe({});
    CHECK(none["brig-vcpu0"] == "0-" + std::to_string(cpus - 1));
}

TEST_CASE("--cpu-affinity with a CPU brig may not use exits 35 with one line", "[cpu-shape]") {
    const auto r = run_brig({guest_args("spin", {"--cpu-affinity", "1000"})});
    CHECK(r.exit_code == 35);
    CHECK(r.err_lines().size() == 1);
    CHECK_THAT(r.err, Contains("--cpu-affinity: host CPU 1000 is not one brig may run on"));
}
