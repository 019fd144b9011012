// `brig policy`: the audit's account of each sandbox must be what actually runs. The
// jail profile `brig policy show --json` prints is compared with /proc of the
// running device processes; and the audit gates deployment by its exit status.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string squeeze(const std::string& text) {  // "  0   65534  1\n" -> "0 65534 1"
    std::istringstream in(text);
    std::string word, out;
    while (in >> word) out += (out.empty() ? "" : " ") + word;
    return out;
}

std::string ns(pid_t pid, const std::string& name) {
    char buf[64] = {};
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + name;
    return readlink(path.c_str(), buf, sizeof buf - 1) > 0 ? buf : "?";
}

std::string status_field(pid_t pid, const std::string& field) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind(field + ":", 0) == 0) return squeeze(line.substr(field.size() + 1));
    return "?";
}

// The device processes of brig, by device kind (argv: brig-device KIND NAME ...).
std::map<std::string, pid_t> devices_of(pid_t brig) {
    std::map<std::string, pid_t> out;
    DIR* proc = opendir("/proc");
    while (dirent* e = readdir(proc)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0 || status_field(pid, "PPid") != std::to_string(brig)) continue;
        std::string argv = slurp("/proc/" + std::to_string(pid) + "/cmdline");
        std::vector<std::string> words;
        std::string w;
        for (char c : argv) {
            if (c == '\0') {
                words.push_back(w);
                w.clear();
            } else {
                w += c;
            }
        }
        if (words.size() >= 2) out[words[1]] = pid;
    }
    closedir(proc);
    return out;
}

struct ShownJail {
    std::vector<std::string> namespaces;
    std::string uid_map, gid_map;
    bool no_new_privs = false;
    std::string capabilities;
    std::map<std::string, std::pair<uint64_t, uint64_t>> rlimits;
};

// `brig policy show KIND --json`, with the maps shown for `ids` ("UID:GID") when given.
ShownJail show_jail(const std::string& kind, const std::string& ids = "") {
    std::vector<std::string> args = {"policy", "show", kind, "--json"};
    if (!ids.empty()) args.insert(args.end(), {"--jail-user", ids});
    const auto r = run_brig({args});
    REQUIRE(r.exit_code == 0);
    ShownJail jail;
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex(R"re("namespaces"\s*:\s*\[([^\]]*)\])re")));
    const std::string list = m[1];
    const std::regex quoted(R"re("([a-z]+)")re");
    for (std::sregex_iterator it(list.begin(), list.end(), quoted), end; it != end; ++it)
        jail.namespaces.push_back((*it)[1]);
    REQUIRE(std::regex_search(r.out, m, std::regex(R"re("uid_map"\s*:\s*"([^"]*)")re")));
    jail.uid_map = m[1];
    REQUIRE(std::regex_search(r.out, m, std::regex(R"re("gid_map"\s*:\s*"([^"]*)")re")));
    jail.gid_map = m[1];
    REQUIRE(std::regex_search(r.out, m, std::regex(R"re("no_new_privs"\s*:\s*(true|false))re")));
    jail.no_new_privs = m[1] == "true";
    REQUIRE(std::regex_search(r.out, m, std::regex(R"re("capabilities"\s*:\s*"([^"]*)")re")));
    jail.capabilities = m[1];
    const std::regex limit(R"re("name"\s*:\s*"(RLIMIT_[A-Z]+)"\s*,\s*"soft"\s*:\s*(\d+)\s*,\s*"hard"\s*:\s*(\d+))re");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), limit), end; it != end; ++it)
        jail.rlimits[(*it)[1]] = {std::stoull((*it)[2]), std::stoull((*it)[3])};
    return jail;
}

// /proc/PID/limits row names for the rlimits brig sets.
const std::map<std::string, std::string> kLimitRows = {
    {"RLIMIT_NOFILE", "Max open files"},   {"RLIMIT_NPROC", "Max processes"}, {"RLIMIT_FSIZE", "Max file size"},
    {"RLIMIT_CORE", "Max core file size"}, {"RLIMIT_DATA", "Max data size"},
};

}  // namespace

TEST_CASE("brig policy show describes exactly the jail each running device is in", "[policy]") {
    const TempImage disk(1 << 20);
    BrigRun run{guest_args("spin", {"--disk", disk.path, "--console", "sink"})};
    std::map<std::string, pid_t> devices;
    std::set<unsigned long> ids;  // one per device
    pid_t brig = 0;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (brig || out.find("spin: 1") == std::string::npos) return;
        brig = pid;
        devices = devices_of(pid);
        for (const auto& [kind, device] : devices) {
            INFO("device " << kind << " pid " << device);
            // Each device runs as an id of its own, so the shown maps are "J J 1" and
            // J is what /proc says: check J, then the maps shown for that J.
            const std::string uid = status_field(device, "Uid"), gid = status_field(device, "Gid");
            const unsigned long id = std::stoul(uid);
            const std::string j = std::to_string(id);
            CHECK(uid == j + " " + j + " " + j + " " + j);  // real, effective, saved, fs
            CHECK(gid == uid);
            CHECK(id >= 400000);
            CHECK(id <= 499999);
            CHECK(ids.insert(id).second);
            CHECK(show_jail(kind).uid_map == "J J 1");
            const ShownJail shown = show_jail(kind, std::to_string(id) + ":" + std::to_string(id));
            for (const char* name : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}) {
                INFO("namespace " << name);
                const bool listed =
                    std::find(shown.namespaces.begin(), shown.namespaces.end(), name) != shown.namespaces.end();
                CHECK(listed == (ns(device, name) != ns(pid, name)));
            }
            CHECK(shown.no_new_privs == (status_field(device, "NoNewPrivs") == "1"));
            CHECK(status_field(device, "Seccomp") == "2");
            if (shown.capabilities == "none")
                for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
                    CHECK(status_field(device, caps) == "0000000000000000");
            CHECK(squeeze(slurp("/proc/" + std::to_string(device) + "/uid_map")) == shown.uid_map);
            CHECK(squeeze(slurp("/proc/" + std::to_string(device) + "/gid_map")) == shown.gid_map);
            const std::string limits = slurp("/proc/" + std::to_string(device) + "/limits");
            for (const auto& [name, values] : shown.rlimits) {
                INFO(name);
                REQUIRE(kLimitRows.count(name) == 1);
                const std::regex row(kLimitRows.at(name) + R"re(\s+(\d+)\s+(\d+))re");
                std::smatch m;
                REQUIRE(std::regex_search(limits, m, row));
                CHECK(std::stoull(m[1]) == values.first);
                CHECK(std::stoull(m[2]) == values.second);
            }
        }
        kill(pid, SIGTERM);
    };
    const auto r = run_brig(run);
    CHECK(r.exit_code == 0);
    CHECK(devices.size() == 4);
}

TEST_CASE("brig policy audit: the shipped policies are clean; an unjustified execve gates the deployment", "[policy]") {
    auto r = run_brig({{"policy", "audit"}});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains(": clean"));

    const TempDir temp;
    const std::string dir = temp.path.string();
    const std::string shipped = env_or_fail("BRIG_POLICY_DIR");
    REQUIRE(std::system(("cp " + shipped + "/*.policy " + dir).c_str()) == 0);
    std::ofstream(dir + "/serial_device.policy", std::ios::app) << "execve: 1\n";
    r = run_brig({{"policy", "audit", "--policy-dir", dir}});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Contains("execve"));
    std::ofstream(dir + "/serial_device.policy", std::ios::app)
        << "# audit-allow: execve - a test: the device re-executes itself\n";
    r = run_brig({{"policy", "audit", "--policy-dir", dir}});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
}
