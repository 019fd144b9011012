#include "vmm/cli/cli.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "vmm/error.h"

using namespace brig;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
struct TempFile {
    std::string path;
    TempFile() {
        char tmpl[] = "/tmp/brig-cli-test-XXXXXX";
        const int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

Command parse(std::vector<std::string_view> args) { return parse_command_line(args); }

std::string error_of(std::vector<std::string_view> args) {
    try {
        parse_command_line(args);
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "no error";
}
}  // namespace

TEST_CASE("cli parses a full run command", "[cli]") {
    TempFile kernel, initrd;
    auto cmd = parse({"run", "--kernel", kernel.path, "--initrd=" + initrd.path, "--cmdline", "console=ttyS0 quiet",
                      "--mem", "512", "--cpus", "4", "--serial", "file=/tmp/out.log", "--log-level", "debug"});
    REQUIRE(std::holds_alternative<RunOptions>(cmd));
    const auto& o = std::get<RunOptions>(cmd);
    CHECK(o.kernel == kernel.path);
    CHECK(o.initrd.value() == initrd.path);
    CHECK(o.cmdline == "console=ttyS0 quiet");
    CHECK(o.mem_mib == 512);
    CHECK(o.cpus == 4);
    CHECK(o.serial.kind == ConsoleOutput::Kind::File);
    CHECK(o.serial.path == "/tmp/out.log");
    CHECK(o.log_level == spdlog::level::debug);
}

TEST_CASE("cli parses the sandbox and supervision flags", "[cli]") {
    TempFile kernel;
    auto o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--jail-user", "1234:5678", "--failure-file",
                                         "/tmp/why", "--boot-timeout", "30", "--disable-sandbox"}));
    REQUIRE(o.jail_user.has_value());
    CHECK(o.jail_user->uid == 1234);
    CHECK(o.jail_user->gid == 5678);
    CHECK(o.failure_file.value() == "/tmp/why");
    CHECK(o.boot_timeout_seconds.value() == 30);
    CHECK(o.disable_sandbox);
    o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--jail-user", "4321"}));
    REQUIRE(o.jail_user.has_value());
    CHECK(o.jail_user->uid == 4321);
    CHECK(o.jail_user->gid == 4321);
    CHECK_FALSE(o.disable_sandbox);
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--jail-user", "0"}), StartsWith("--jail-user: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--jail-user", "12:x"}), StartsWith("--jail-user: 'x' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--boot-timeout", "0"}), StartsWith("--boot-timeout: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--disable-sandbox=yes"}), StartsWith("--disable-sandbox: takes no value"));
}

TEST_CASE("cli parses virtio devices", "[cli]") {
    TempFile kernel, disk0, disk1;
    auto o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--disk", disk0.path, "--disk",
                                         disk1.path + ",ro", "--no-rng", "--console", "file=/tmp/hvc0"}));
    REQUIRE(o.disks.size() == 2);
    CHECK(o.disks[0].path == disk0.path);
    CHECK_FALSE(o.disks[0].read_only);
    CHECK(o.disks[1].read_only);
    CHECK_FALSE(o.rng);
    REQUIRE(o.virtio_console.has_value());
    CHECK(o.virtio_console->kind == ConsoleOutput::Kind::File);
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--disk", "/nonexistent.img"}), StartsWith("--disk: cannot open"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--disk", disk0.path + ",rw"}), StartsWith("--disk: "));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--console", "tty"}), StartsWith("--console: 'tty' is not one of"));
}

TEST_CASE("cli parses seccomp modes and the policy command", "[cli]") {
    TempFile kernel;
    auto o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--seccomp", "learn", "--policy-out", "/tmp/out",
                                         "--policy-dir", "/tmp/policies"}));
    CHECK(o.seccomp_mode == RunOptions::SeccompMode::Learn);
    CHECK(o.policy_out.value() == "/tmp/out");
    CHECK(o.policy_dir.value() == "/tmp/policies");
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--seccomp", "learn"}), StartsWith("--seccomp: learn needs --policy-out"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--seccomp", "trap"}), StartsWith("--seccomp: 'trap' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--policy-out", "/tmp/x"}), StartsWith("--policy-out: only with"));
    const auto policy = std::get<PolicyCommand>(parse({"policy", "audit", "--json"}));
    CHECK(policy.args == std::vector<std::string>{"audit", "--json"});
}

TEST_CASE("cli defaults", "[cli]") {
    TempFile kernel;
    const auto o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path}));
    CHECK(o.mem_mib == 256);
    CHECK(o.cpus == 1);
    CHECK(o.serial.kind == ConsoleOutput::Kind::Stdout);
    CHECK_FALSE(o.initrd.has_value());
    CHECK_FALSE(o.jail_user.has_value());
    CHECK(o.jail_ids.first == 400000);
    CHECK(o.jail_ids.last == 499999);
    CHECK_FALSE(o.cgroup_parent.has_value());
    CHECK(o.rng);
    CHECK(o.disks.empty());
    CHECK_FALSE(o.virtio_console.has_value());
    CHECK_FALSE(o.failure_file.has_value());
    CHECK_FALSE(o.boot_timeout_seconds.has_value());
}

TEST_CASE("cli help and version", "[cli]") {
    CHECK_THAT(std::get<HelpRequest>(parse({"--help"})).text, Contains("brig run"));
    CHECK_THAT(std::get<HelpRequest>(parse({"run", "--help"})).text, Contains("--kernel PATH"));
    CHECK(std::holds_alternative<VersionRequest>(parse({"--version"})));
}

TEST_CASE("cli errors are one line naming the flag", "[cli]") {
    TempFile kernel;
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--bogus"}), StartsWith("--bogus: unknown flag"));
    CHECK_THAT(error_of({"run", "--kernel", "/nonexistent/vmlinux"}),
               StartsWith("--kernel: cannot open /nonexistent/vmlinux: No such file"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--mem", "12x"}), StartsWith("--mem: '12x' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--mem", "-5"}), StartsWith("--mem: '-5' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--mem", "8"}), StartsWith("--mem: 8 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--mem", "33"}), StartsWith("--mem: must be a multiple"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--cpus", "0"}), StartsWith("--cpus: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--cpus", "99999999999999999999999"}),
               StartsWith("--cpus: '99999999999999999999999' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--serial", "tcp"}), StartsWith("--serial: 'tcp' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--log-level", "loud"}), StartsWith("--log-level:"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--cpus"}), StartsWith("--cpus: missing value"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--cpus", "2", "--cpus", "3"}), StartsWith("--cpus: given more than once"));
    CHECK_THAT(error_of({"run"}), StartsWith("--kernel: required"));
    CHECK_THAT(error_of({"fly"}), StartsWith("unknown command 'fly'"));
    CHECK_THAT(error_of({}), StartsWith("missing command"));
    CHECK_THAT(error_of({"run", "--kernel", "/tmp"}), StartsWith("--kernel: /tmp is not a regular file"));
}

TEST_CASE("cli parses --jail-ids FIRST-LAST and --cgroup-parent", "[cli]") {
    TempFile kernel;
    auto o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--jail-ids", "500000-500009", "--cgroup-parent",
                                         "/brig/vms"}));
    CHECK_FALSE(o.jail_user.has_value());
    CHECK(o.jail_ids.first == 500000);
    CHECK(o.jail_ids.last == 500009);
    CHECK(o.jail_ids.size() == 10);
    CHECK(o.cgroup_parent.value() == "/brig/vms");
    o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--jail-ids=7-7"}));
    CHECK(o.jail_ids.size() == 1);
    o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--jail-ids", "1-4294967294"}));
    CHECK(o.jail_ids.size() == 4294967294ull);

    const std::string k = kernel.path;
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "400000"}), StartsWith("--jail-ids: '400000' is not FIRST-LAST"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "5-4"}), StartsWith("--jail-ids: '5-4': FIRST is above LAST"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "0-4"}), StartsWith("--jail-ids: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "1-4294967295"}), StartsWith("--jail-ids: 4294967295 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "-5"}), StartsWith("--jail-ids: '' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "1-2-3"}), StartsWith("--jail-ids: '2-3' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "1-9", "--jail-user", "5"}),
               StartsWith("--jail-ids: give either --jail-user or --jail-ids"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--cgroup-parent", ""}), StartsWith("--cgroup-parent: empty path"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--cgroup-parent", "x", "--disable-sandbox"}),
               StartsWith("--cgroup-parent: places device processes"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--cgroup-parent", "a/../b"}), StartsWith("--cgroup-parent: 'a/../b': no '..'"));
}

TEST_CASE("one console reads stdin: the UART on stdout, else the virtio console on stdout", "[cli]") {
    TempFile kernel;
    auto reader = [&](std::vector<std::string_view> extra) {
        std::vector<std::string_view> args = {"run", "--kernel", kernel.path};
        args.insert(args.end(), extra.begin(), extra.end());
        return stdin_console(std::get<RunOptions>(parse(args)));
    };
    CHECK(reader({}) == StdinConsole::Serial);
    CHECK(reader({"--console", "stdout"}) == StdinConsole::Serial);
    CHECK(reader({"--serial", "sink", "--console", "stdout"}) == StdinConsole::VirtioConsole);
    CHECK(reader({"--serial", "sink", "--console", "sink"}) == StdinConsole::None);
    CHECK(reader({"--serial", "sink"}) == StdinConsole::None);
}
