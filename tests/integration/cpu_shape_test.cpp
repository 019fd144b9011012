// The vCPUs' shape: --cpus N,sockets=S,cores=C,threads=T read back from inside the
// guest (its boot CPU's CPUID and the MADT) and from brig status; --cpu-affinity read
// back from /proc.
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

TEST_CASE("--cpus with a shape: the guest reads it from CPUID leaves 1, 4 and 0xB and from the MADT", "[cpu-shape]") {
    struct Case {
        const char* cpus;
        std::vector<const char*> lines;
    };
    const Case c =
        GENERATE(Case{"4",
                      {"topology: leaf1 apic=0 logical=4 ",
                       "topology: leafb smt_shift=0 smt_count=1 core_shift=2 core_count=4 x2apic=0\n",
                       "topology: leaf4 cache=3 cores=4 sharing=4\n", "topology: madt apic=0,1,2,3 ioapic=4\n"}},
                 // Three cores need two bits: the second socket's ids start at 4.
                 Case{"6,sockets=2,cores=3",
                      {"topology: leaf1 apic=0 logical=3 ",
                       "topology: leafb smt_shift=0 smt_count=1 core_shift=2 core_count=3 x2apic=0\n",
                       "topology: leaf4 cache=1 cores=3 sharing=1\n", "topology: leaf4 cache=3 cores=3 sharing=3\n",
                       "topology: madt apic=0,1,2,4,5,6 ioapic=7\n"}},
                 Case{"8,sockets=2,cores=2,threads=2",
                      {"topology: leaf1 apic=0 logical=4 ",
                       "topology: leafb smt_shift=1 smt_count=2 core_shift=2 core_count=4 x2apic=0\n",
                       "topology: leaf4 cache=1 cores=2 sharing=2\n", "topology: leaf4 cache=3 cores=2 sharing=4\n",
                       "topology: madt apic=0,1,2,3,4,5,6,7 ioapic=8\n"}},
                 // cores= left out: what the other two leave of N.
                 Case{"4,threads=2",
                      {"topology: leafb smt_shift=1 smt_count=2 core_shift=2 core_count=4 x2apic=0\n",
                       "topology: madt apic=0,1,2,3 ioapic=4\n"}});
    INFO("--cpus " << c.cpus);
    const auto r = run_brig({guest_args("topology", {"--cpus", c.cpus})});
    require_exit(r, 0);
    for (const char* line : c.lines) CHECK_THAT(r.out, Contains(line));
}

TEST_CASE("--cpus: a shape that is not N vCPUs, or whose APIC ids pass xAPIC's, is one line and exit 35",
          "[cpu-shape]") {
    struct Case {
        const char* cpus;
        const char* says;
    };
    const Case c = GENERATE(Case{"6,sockets=4", "sockets x cores x threads is 4 x 1 x 1 = 4, not 6"},
                            Case{"4,sockets=2,cores=2,threads=2", "sockets x cores x threads is 2 x 2 x 2 = 8, not 4"},
                            Case{"254,sockets=2,cores=127", "its APIC ids run to 254, past xAPIC's 253"},
                            Case{"4,dies=2", "unknown key 'dies' (sockets, cores, threads)"},
                            Case{"4,cores=", "'cores' needs a number"});
    const auto r = run_brig({guest_args("poweroff", {"--cpus", c.cpus})});
    CHECK(r.exit_code == 35);
    CHECK(r.err_lines().size() == 1);
    CHECK_THAT(r.err, Contains(std::string("--cpus: '") + c.cpus + "': " + c.says));
}

TEST_CASE("--cpus with a shape: brig status says it", "[cpu-shape][control-socket]") {
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("spin", {"--cpus", "4,sockets=2,cores=1,threads=2", "--socket", sock})};
    run.timeout = std::chrono::seconds(30);
    std::string status;
    run.on_output = [&](const std::string& out, pid_t) {
        if (!status.empty() || out.find("spin: 0") == std::string::npos) return;
        BrigRun ask{{"status", sock}};
        status = run_brig(ask).out;
        BrigRun stop{{"stop", sock}};
        CHECK(run_brig(stop).exit_code == 0);
    };
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(status, Contains("\"vcpus\":4,"));
    CHECK_THAT(status, Contains("\"topology\":{\"sockets\":2,\"cores\":1,\"threads\":2}"));
}
