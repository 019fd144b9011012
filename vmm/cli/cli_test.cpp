#include "vmm/cli/cli.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "vmm/cli/key_values.h"
#include "vmm/cli/suggest.h"
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

std::string error_of_key_values(std::string_view text) {
    try {
        parse_key_values("--x", text);
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
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--jail-user", "0"}),
               StartsWith("--jail-user: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--jail-user", "12:x"}),
               StartsWith("--jail-user: 'x' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--boot-timeout", "0"}),
               StartsWith("--boot-timeout: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--disable-sandbox=yes"}),
               StartsWith("--disable-sandbox: takes no value"));
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
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--disk", "/nonexistent.img"}),
               StartsWith("--disk: cannot open"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--disk", disk0.path + ",rw"}), StartsWith("--disk: "));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--console", "tty"}),
               StartsWith("--console: 'tty' is not one of"));
}

TEST_CASE("cli parses seccomp modes and the policy command", "[cli]") {
    TempFile kernel;
    auto o = std::get<RunOptions>(parse({"run", "--kernel", kernel.path, "--seccomp", "learn", "--policy-out",
                                         "/tmp/out", "--policy-dir", "/tmp/policies"}));
    CHECK(o.seccomp_mode == RunOptions::SeccompMode::Learn);
    CHECK(o.policy_out.value() == "/tmp/out");
    CHECK(o.policy_dir.value() == "/tmp/policies");
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--seccomp", "learn"}),
               StartsWith("--seccomp: learn needs --policy-out"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--seccomp", "trap"}),
               StartsWith("--seccomp: 'trap' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--policy-out", "/tmp/x"}),
               StartsWith("--policy-out: only with"));
    const auto policy = std::get<PolicyCommand>(parse({"policy", "audit", "--json"}));
    CHECK(policy.args == std::vector<std::string>{"audit", "--json"});
}

// Found by the cli fuzz target: an argument with a newline in it made the error two
// lines, and a terminal escape would have reached the operator's terminal.
TEST_CASE("an error shows what was typed on one line, control characters escaped", "[cli]") {
    CHECK(error_of({"\n"}) == "unknown command '\\x0a' (see `brig --help`)");
    const std::string kernel_error = error_of({"run", "--kernel", "a\nb\x1b[2J"});
    CHECK(kernel_error.find('\n') == std::string::npos);
    CHECK(kernel_error.find('\x1b') == std::string::npos);
    CHECK_THAT(kernel_error, Contains("a\\x0ab\\x1b[2J"));
    CHECK_THAT(error_of({"run", "--kernel", "/tmp/caf\xc3\xa9"}), Contains("/tmp/caf\xc3\xa9"));  // UTF-8 stays
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
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--serial", "tcp"}),
               StartsWith("--serial: 'tcp' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--log-level", "loud"}), StartsWith("--log-level:"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--cpus"}), StartsWith("--cpus: missing value"));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--cpus", "2", "--cpus", "3"}),
               StartsWith("--cpus: given more than once"));
    CHECK_THAT(error_of({"run"}), StartsWith("--kernel: required"));
    CHECK_THAT(error_of({"fly"}), StartsWith("unknown command 'fly'"));
    CHECK_THAT(error_of({}), StartsWith("missing command"));
    CHECK_THAT(error_of({"run", "--kernel", "/tmp"}), StartsWith("--kernel: /tmp is not a regular file"));
}

TEST_CASE("cli parses --jail-ids FIRST-LAST and --cgroup-parent", "[cli]") {
    TempFile kernel;
    auto o = std::get<RunOptions>(
        parse({"run", "--kernel", kernel.path, "--jail-ids", "500000-500009", "--cgroup-parent", "/brig/vms"}));
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
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "400000"}),
               StartsWith("--jail-ids: '400000' is not FIRST-LAST"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "5-4"}),
               StartsWith("--jail-ids: '5-4': FIRST is above LAST"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "0-4"}), StartsWith("--jail-ids: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "1-4294967295"}),
               StartsWith("--jail-ids: 4294967295 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "-5"}), StartsWith("--jail-ids: '' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "1-2-3"}),
               StartsWith("--jail-ids: '2-3' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--jail-ids", "1-9", "--jail-user", "5"}),
               StartsWith("--jail-ids: give either --jail-user or --jail-ids"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--cgroup-parent", ""}), StartsWith("--cgroup-parent: empty path"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--cgroup-parent", "x", "--disable-sandbox"}),
               StartsWith("--cgroup-parent: places device processes"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--cgroup-parent", "a/../b"}),
               StartsWith("--cgroup-parent: 'a/../b': no '..'"));
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

namespace {
// A file with this text, removed at the end of the test.
struct TextFile : TempFile {
    explicit TextFile(const std::string& text) { std::ofstream(path) << text; }
};

RunOptions run_options(std::vector<std::string_view> args) { return std::get<RunOptions>(parse(args)); }
}  // namespace

TEST_CASE("--mem takes MiB, or a size with a K, M, G or T suffix", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    CHECK(run_options({"run", "--kernel", k, "--mem", "512"}).mem_mib == 512);  // a plain number is MiB
    CHECK(run_options({"run", "--kernel", k, "--mem", "512M"}).mem_mib == 512);
    CHECK(run_options({"run", "--kernel", k, "--mem", "1G"}).mem_mib == 1024);
    CHECK(run_options({"run", "--kernel", k, "--mem=3g"}).mem_mib == 3072);
    CHECK(run_options({"run", "--kernel", k, "--mem", "65536K"}).mem_mib == 64);
    CHECK(run_options({"run", "--kernel", k, "--mem", "64MiB"}).mem_mib == 64);
    CHECK(run_options({"run", "--kernel", k, "--mem", "1T"}).mem_mib == 1024 * 1024);
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "1024K"}), StartsWith("--mem: 1024K is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "2T"}), StartsWith("--mem: 2T is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "0"}), StartsWith("--mem: 0 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "0G"}), StartsWith("--mem: 0G is out of range"));
    // Overflow, of the number and of the number times the unit.
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "99999999999999999999999"}),
               StartsWith("--mem: 99999999999999999999999 is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "17179869184T"}),
               StartsWith("--mem: 17179869184T is out of range"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "1500K"}),
               StartsWith("--mem: 1500K is not a whole number of MiB"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "17M"}), StartsWith("--mem: must be a multiple of 2 MiB"));
    CHECK(error_of({"run", "--kernel", k, "--mem", "1GB"}) ==
          "--mem: '1GB' is not a number, nor a size with a suffix K, M, G or T (512M, 1G)");
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "G"}), StartsWith("--mem: 'G' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", ""}), StartsWith("--mem: '' is not a number"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--mem", "1.5G"}), StartsWith("--mem: '1.5G' is not a number"));
}

TEST_CASE("log levels are case-insensitive, and warning is warn", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    CHECK(run_options({"run", "--kernel", k, "--log-level", "WARN"}).log_level == spdlog::level::warn);
    CHECK(run_options({"run", "--kernel", k, "--log-level", "warning"}).log_level == spdlog::level::warn);
    CHECK(run_options({"run", "--kernel", k, "--log-level=Warning"}).log_level == spdlog::level::warn);
    CHECK(run_options({"run", "--kernel", k, "--log-level", "Debug"}).log_level == spdlog::level::debug);
    CHECK(run_options({"run", "--kernel", k, "--log-level", "ERROR"}).log_level == spdlog::level::err);
    CHECK(run_options({"run", "--kernel", k, "--log-level", "OFF"}).log_level == spdlog::level::off);
    CHECK_THAT(error_of({"run", "--kernel", k, "--log-level", "warnings"}),
               StartsWith("--log-level: 'warnings' is not one of trace, debug, info, warn, error, off"));
}

TEST_CASE("an unknown flag or command suggests a close one", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    CHECK(error_of({"run", "--kernel", k, "--memm", "64"}) == "--memm: unknown flag (did you mean --mem?)");
    CHECK(error_of({"run", "--kernal", k}) == "--kernal: unknown flag (did you mean --kernel?)");
    CHECK(error_of({"run", "--kernel", k, "--no-rgn"}) == "--no-rgn: unknown flag (did you mean --no-rng?)");
    CHECK(error_of({"run", "--kernel", k, "--jail-uesr=5"}) == "--jail-uesr: unknown flag (did you mean --jail-user?)");
    CHECK(error_of({"run", "--kernel", k, "--frobnicate"}) == "--frobnicate: unknown flag (see `brig run --help`)");
    CHECK(error_of({"rnu"}) == "unknown command 'rnu' (did you mean run?)");
    CHECK(error_of({"polcy", "list"}) == "unknown command 'polcy' (did you mean policy?)");
    CHECK(error_of({"--verison"}) == "--verison: unknown flag (did you mean --version?)");
    CHECK(error_of({"fly"}) == "unknown command 'fly' (see `brig --help`)");
}

TEST_CASE("edit distance counts a swap of neighbours as one edit", "[cli]") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("mem", "mem") == 0);
    CHECK(edit_distance("mem", "memm") == 1);
    CHECK(edit_distance("kernal", "kernel") == 1);
    CHECK(edit_distance("no-rgn", "no-rng") == 1);
    CHECK(edit_distance("abc", "") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(closest_word("--cpu", {"--mem", "--cpus"}) == "--cpus");
    CHECK(closest_word("--xyzzy", {"--mem", "--cpus"}) == std::nullopt);
}

TEST_CASE("key=value,key=value values have one parser", "[cli]") {
    auto items = parse_key_values("--x", "type=file,path=/tmp/out,ro");
    REQUIRE(items.size() == 3);
    CHECK(items[0].key == "type");
    CHECK(items[0].value == "file");
    CHECK(items[1].value == "/tmp/out");
    CHECK(items[2].key == "ro");
    CHECK_FALSE(items[2].value.has_value());
    items = parse_key_values("--x", "path=\"a,b=c\",k=");
    REQUIRE(items.size() == 2);
    CHECK(items[0].value == "a,b=c");
    CHECK(items[1].value == "");
    items = parse_key_values("--x", "/images/a=b.img,ro", KeyValueForm::PathFirst);
    REQUIRE(items.size() == 2);
    CHECK(items[0].key == "/images/a=b.img");
    CHECK(items[1].key == "ro");
    CHECK_THAT(error_of_key_values("a,,b"), StartsWith("--x: 'a,,b': an empty item"));
    CHECK_THAT(error_of_key_values("a,"), StartsWith("--x: 'a,': an empty item"));
    CHECK_THAT(error_of_key_values(""), StartsWith("--x: '': an empty item"));
    CHECK_THAT(error_of_key_values("=v"), StartsWith("--x: '=v': an empty item"));
    CHECK_THAT(error_of_key_values("p=\"a"), StartsWith("--x: 'p=\"a': a quote that does not end"));
    CHECK_THAT(error_of_key_values("p=\"a\"b"), StartsWith("--x: 'p=\"a\"b': text after the closing quote of p"));
    CHECK_THAT(error_of_key_values("a=1,a=2"), StartsWith("--x: 'a=1,a=2': a given twice"));
}

TEST_CASE("consoles take crosvm's type=...,path=... too", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    auto o = run_options({"run", "--kernel", k, "--serial", "type=file,path=/tmp/com1", "--console", "type=sink"});
    CHECK(o.serial.kind == ConsoleOutput::Kind::File);
    CHECK(o.serial.path == "/tmp/com1");
    CHECK(o.virtio_console->kind == ConsoleOutput::Kind::Sink);
    o = run_options({"run", "--kernel", k, "--serial", "file=\"/tmp/a,b\"", "--console", "type=stdout"});
    CHECK(o.serial.path == "/tmp/a,b");
    CHECK(o.virtio_console->kind == ConsoleOutput::Kind::Stdout);
    CHECK_THAT(error_of({"run", "--kernel", k, "--serial", "type=file"}),
               StartsWith("--serial: 'type=file' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--serial", "type=sink,path=/x"}),
               StartsWith("--serial: 'type=sink,path=/x' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--serial", "file="}), StartsWith("--serial: 'file=' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--console", "stdout,sink"}),
               StartsWith("--console: 'stdout,sink' is not one of"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--console", "type=tty"}),
               StartsWith("--console: 'type=tty' is not one of"));
}

TEST_CASE("values are read as given: an empty inline value, a value that looks like a flag", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    CHECK(run_options({"run", "--kernel", k, "--cmdline="}).cmdline.empty());
    CHECK(run_options({"run", "--kernel", k, "--cmdline", "--mem"}).cmdline == "--mem");
    CHECK(run_options({"run", "--cmdline=--kernel", "--kernel=" + k}).cmdline == "--kernel");
    CHECK(run_options({"run", "--kernel", k, "--cmdline", "a=b c"}).cmdline == "a=b c");
    CHECK_THAT(error_of({"run", "--kernel", k, "--failure-file="}), StartsWith("--failure-file: empty path"));
    CHECK_THAT(error_of({"run", "--kernel="}), StartsWith("--kernel: empty path"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--no-rng=yes"}), StartsWith("--no-rng: takes no value"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--rng=true"}), StartsWith("--rng: takes no value"));
    CHECK_THAT(error_of({"run", "--kernel", k, "stray"}), StartsWith("stray: unexpected argument"));
    CHECK_THAT(error_of({"run", "--kernel", k, "-x"}), StartsWith("-x: unexpected argument"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--help"}), StartsWith("--help: give it alone"));
    CHECK_THAT(error_of({"run", "--kernel", k, "-h"}), StartsWith("--help: give it alone"));
    // The last of --rng and --no-rng wins.
    CHECK_FALSE(run_options({"run", "--kernel", k, "--rng", "--no-rng"}).rng);
    CHECK(run_options({"run", "--kernel", k, "--no-rng", "--rng"}).rng);
}

TEST_CASE("--config reads the flags from a TOML file", "[cli]") {
    TempFile kernel, disk0, disk1;
    const TextFile config(
        "# a VM\n"
        "kernel = \"" +
        kernel.path +
        "\"\n"
        "cmdline = \"console=ttyS0 mode=info\"\n"
        "mem = \"1G\"\n"
        "cpus = 2\n"
        "disk = [\"" +
        disk0.path + "\", \"" + disk1.path +
        ",ro\"]\n"
        "rng = false\n"
        "serial = \"sink\"\n"
        "log-level = \"WARNING\"\n"
        "jail-ids = \"500000-500009\"\n");
    auto o = run_options({"run", "--config", config.path});
    CHECK(o.kernel == kernel.path);
    CHECK(o.cmdline == "console=ttyS0 mode=info");
    CHECK(o.mem_mib == 1024);
    CHECK(o.cpus == 2);
    REQUIRE(o.disks.size() == 2);
    CHECK(o.disks[0].path == disk0.path);
    CHECK(o.disks[1].path == disk1.path);
    CHECK(o.disks[1].read_only);
    CHECK_FALSE(o.rng);
    CHECK(o.serial.kind == ConsoleOutput::Kind::Sink);
    CHECK(o.log_level == spdlog::level::warn);
    CHECK(o.jail_ids.first == 500000);

    SECTION("a flag on the command line wins over its key") {
        o = run_options(
            {"run", "--cpus", "4", "--config=" + config.path, "--rng", "--disk", disk0.path, "--mem", "64"});
        CHECK(o.cpus == 4);
        CHECK(o.rng);
        CHECK(o.mem_mib == 64);
        REQUIRE(o.disks.size() == 1);  // the command line's --disk replaces the whole array
        CHECK_FALSE(o.disks[0].read_only);
        CHECK(o.cmdline == "console=ttyS0 mode=info");  // the rest still comes from the file
    }
    SECTION("conflicts between the file and the command line are found as on the command line") {
        CHECK_THAT(error_of({"run", "--config", config.path, "--jail-user", "5"}),
                   StartsWith("--jail-ids: give either --jail-user or --jail-ids"));
    }
    SECTION("switches are true or false") {
        const TextFile switches("kernel = \"" + kernel.path + "\"\nno-rng = true\ndisable-sandbox = true\n");
        o = run_options({"run", "--config", switches.path});
        CHECK_FALSE(o.rng);
        CHECK(o.disable_sandbox);
    }
}

// A --config that is a device would have been read until memory ran out.
TEST_CASE("--config of a device or a huge file is refused before it is read", "[cli]") {
    TempFile kernel;
    CHECK(error_of({"run", "--kernel", kernel.path, "--config", "/dev/zero"}) ==
          "--config: /dev/zero is not a regular file");
    CHECK(error_of({"run", "--kernel", kernel.path, "--config=/dev/urandom"}) ==
          "--config: /dev/urandom is not a regular file");
    const TextFile huge(std::string(2 << 20, '#'));
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--config", huge.path}),
               StartsWith("--config: " + huge.path + " is larger than"));
}

TEST_CASE("a bad --config file is one line naming it", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    auto config_error = [&](const std::string& text) {
        const TextFile config(text);
        const std::string message = error_of({"run", "--kernel", k, "--config", config.path});
        const std::string prefix = "--config: " + config.path + ": ";
        return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
    };
    CHECK(config_error("kernl = \"x\"\n") == "unknown key 'kernl' (did you mean kernel?)");
    CHECK(config_error("frobnicate = 1\n") == "unknown key 'frobnicate'");
    CHECK(config_error("this is not toml\n") == "unknown key 'this is not toml'");
    CHECK(config_error("[vm]\ncpus = 2\n") == "[vm]: there are no sections");
    CHECK(config_error("config = \"other.toml\"\n") == "'config' is not a key");
    CHECK(config_error("help = true\n") == "'help' is not a key");
    // Bad values name the flag, as on the command line.
    CHECK(config_error("mem = \"lots\"\n") == "--mem: 'lots' is not a number");
    CHECK(config_error("cpus = 0\n") == "--cpus: 0 is out of range (1..254)");
    CHECK(config_error("cpus = [1, 2]\n") == "--cpus: given more than once");
    CHECK(config_error("rng = \"maybe\"\n") == "--rng: 'maybe' is not true or false");
    CHECK(config_error("disable-sandbox = \"yes\"\n") == "--disable-sandbox: 'yes' is not true or false");
    CHECK(config_error("disk = [\"/nonexistent.img\"]\n").starts_with("--disk: cannot open /nonexistent.img"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--config", "/nonexistent.toml"}),
               StartsWith("--config: cannot open /nonexistent.toml: No such file"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--config", "/tmp"}),
               StartsWith("--config: /tmp is not a regular file"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--config"}), StartsWith("--config: missing value"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--config="}), StartsWith("--config: empty path"));
    CHECK_THAT(error_of({"run", "--kernel", k, "--config", k, "--config", k}),
               StartsWith("--config: given more than once"));
    const TextFile no_kernel("cpus = 2\n");
    CHECK_THAT(error_of({"run", "--config", no_kernel.path}), StartsWith("--kernel: required"));
}

TEST_CASE("every bad command line is an InvalidArgument", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    // Named: a temporary would die before the views into it are read (ASan found it).
    const std::string k_ro_twice = k + ",ro,ro";
    const std::vector<std::vector<std::string_view>> bad = {
        {},
        {"fly"},
        {"--bogus"},
        {"--help", "run"},
        {"--version", "x"},
        {"run"},
        {"run", "--kernel"},
        {"run", "--kernel", k, "--kernel", k},
        {"run", "--kernel", k, "--bogus"},
        {"run", "--kernel", k, "--bogus=1"},
        {"run", "--kernel", k, "--", "x"},
        {"run", "--kernel", k, "-"},
        {"run", "--kernel", k, "---"},
        {"run", "--kernel", k, "-h", "-x"},
        {"run", "--kernel", k, "--config", "/nonexistent"},
        {"run", "--kernel", k, "--disable-sandbox=1"},
        {"run", "--kernel", k, "--mem", "1Q"},
        {"run", "--kernel", k, "--disk", ""},
        {"run", "--kernel", k, "--disk", ",ro"},
        {"run", "--kernel", k, "--disk", k_ro_twice},
        {"run", "--kernel", k, "--serial", "file=\"x"},
        {"run", "--kernel", k, "--jail-user", ""},
        {"run", "--kernel", k, "--jail-ids", "-"},
        {"run", "--kernel", k, "--seccomp", ""},
        {"run", "--kernel", k, "--policy-dir", ""},
        {"run", "--kernel", k, "--policy-out", ""},
        {"run", "--kernel", k, "--seccomp=learn", "--policy-out="},
    };
    for (const auto& args : bad) {
        std::string line;
        for (const auto word : args) line += std::string(word) + " ";
        INFO(line);
        CHECK_THROWS_AS(parse(args), InvalidArgument);
        CHECK(error_of(args).find('\n') == std::string::npos);
    }
}

TEST_CASE("--net takes crosvm's tap-name= or tap-fd=, with an optional unicast mac=", "[cli]") {
    TempFile kernel;
    auto cmd = parse({"run", "--kernel", kernel.path, "--net", "tap-name=tap0", "--net",
                      "tap-fd=7,mac=52:54:00:AB:cd:01", "--net", "mac=02:00:00:00:00:09,tap-name=vm-tap.2"});
    REQUIRE(std::holds_alternative<RunOptions>(cmd));
    const auto& nets = std::get<RunOptions>(cmd).nets;
    REQUIRE(nets.size() == 3);
    CHECK(nets[0].tap_name == "tap0");
    CHECK_FALSE(nets[0].tap_fd);
    CHECK_FALSE(nets[0].mac);
    CHECK(nets[1].tap_fd == 7);
    CHECK(nets[1].mac->to_string() == "52:54:00:ab:cd:01");
    CHECK(nets[2].tap_name == "vm-tap.2");
}

TEST_CASE("a bad --net is one line naming the flag", "[cli]") {
    TempFile kernel;
    auto err = [&](std::string_view net) { return error_of({"run", "--kernel", kernel.path, "--net", net}); };
    CHECK(err("tap-name=a,tap-fd=3") == "--net: 'tap-name=a,tap-fd=3': tap-name and tap-fd together; give one");
    CHECK(err("mac=52:54:00:00:00:01") == "--net: 'mac=52:54:00:00:00:01': needs tap-name=NAME or tap-fd=N");
    CHECK(err("tap-name=t,mac=52:54:00:00:01") == "--net: '52:54:00:00:01' is not a MAC address (xx:xx:xx:xx:xx:xx)");
    CHECK(err("tap-name=t,mac=01:00:5e:00:00:01") ==
          "--net: '01:00:5e:00:00:01' is a multicast MAC address; a network device needs a unicast one");
    CHECK(err("tap-name=this-name-is-too-long") ==
          "--net: 'this-name-is-too-long' is not an interface name (at most 15 characters, no '/', ':' or spaces)");
    CHECK_THAT(err("tap-name=a/b"), Contains("is not an interface name"));
    CHECK(err("tap-fd=x") == "--net: 'x' is not a number");
    CHECK(err("tap-name") == "--net: 'tap-name': 'tap-name' needs a value (tap-name=NAME, tap-fd=N, mac=MAC)");
    CHECK(err("tap-name=t,queues=2") == "--net: 'tap-name=t,queues=2': unknown key 'queues' (tap-name, tap-fd, mac)");
    CHECK(error_of({"run", "--kernel", kernel.path, "--net", "tap-name=a,mac=52:54:00:00:00:01", "--net",
                    "tap-name=b,mac=52:54:00:00:00:01"}) == "--net: MAC 52:54:00:00:00:01 is given twice");
    CHECK(error_of({"run", "--kernel", kernel.path, "--net", "tap-fd=5", "--net", "tap-fd=5"}) ==
          "--net: tap-fd=5 is given twice");
    CHECK(err("tap-fd=2") == "--net: 2 is out of range (3..2147483647)");
}

TEST_CASE("--disk and --net share the virtio-mmio windows that --rng and --console leave", "[cli]") {
    TempFile kernel, disk;
    std::vector<std::string> words = {"run", "--kernel", kernel.path};
    for (int i = 0; i < 10; ++i) words.insert(words.end(), {"--disk", disk.path});
    for (int i = 0; i < 5; ++i) words.insert(words.end(), {"--net", "tap-name=t" + std::to_string(i)});
    std::vector<std::string_view> args(words.begin(), words.end());
    CHECK(error_of(args) == "--net: at most 14 disks and network devices together");
    args.resize(args.size() - 2);
    CHECK(std::holds_alternative<RunOptions>(parse(args)));
}

TEST_CASE("cli parses --vsock and --ready-port", "[cli][vsock]") {
    TempFile kernel;
    const RunOptions o =
        run_options({"run", "--kernel", kernel.path, "--vsock", "cid=7,socket=/run/vm.sock", "--ready-port", "9000"});
    REQUIRE(o.vsock);
    CHECK(o.vsock->cid == 7);
    CHECK(o.vsock->socket == "/run/vm.sock");
    CHECK(o.ready_port == 9000u);
    CHECK_FALSE(run_options({"run", "--kernel", kernel.path}).vsock);

    auto err = [&](std::string_view value) { return error_of({"run", "--kernel", kernel.path, "--vsock", value}); };
    CHECK(err("cid=2,socket=/s") == "--vsock: 2 is out of range (3..4294967294)");
    CHECK(err("cid=4294967295,socket=/s") == "--vsock: 4294967295 is out of range (3..4294967294)");
    CHECK(err("socket=/s") == "--vsock: 'socket=/s': needs cid=N (3 or more)");
    CHECK(err("cid=3") == "--vsock: 'cid=3': needs socket=PATH (the host's unix socket)");
    CHECK(err("cid=3,socket=/s,port=4") == "--vsock: 'cid=3,socket=/s,port=4': unknown key 'port' (cid, socket)");
    CHECK(err("cid=x,socket=/s") == "--vsock: 'x' is not a number");
    CHECK(error_of({"run", "--kernel", kernel.path, "--ready-port", "9000"}) ==
          "--ready-port: needs --vsock (the port is a vsock port)");
    CHECK(error_of({"run", "--kernel", kernel.path, "--vsock", "cid=3,socket=/s", "--ready-port", "0"}) ==
          "--ready-port: 0 is out of range (1..4294967295)");
}

TEST_CASE("--vsock takes a virtio-mmio window of its own", "[cli][vsock]") {
    TempFile kernel, disk;
    std::vector<std::string> words = {"run", "--kernel", kernel.path, "--console", "sink"};
    for (int i = 0; i < 14; ++i) words.insert(words.end(), {"--disk", disk.path});
    words.insert(words.end(), {"--vsock", "cid=3,socket=/s"});
    std::vector<std::string_view> args(words.begin(), words.end());
    CHECK(error_of(args) == "--vsock: 17 virtio devices; the board has 16 windows");
    args.push_back("--no-rng");
    CHECK(std::holds_alternative<RunOptions>(parse(args)));
}

TEST_CASE("cli parses the control commands, --socket and --suspended", "[cli][control]") {
    for (const char* verb : {"stop", "suspend", "resume", "status", "events"}) {
        INFO(verb);
        const auto command = parse({verb, "/run/vm.sock"});
        REQUIRE(std::holds_alternative<brig::ControlCommand>(command));
        CHECK(std::get<brig::ControlCommand>(command).verb == verb);
        CHECK(std::get<brig::ControlCommand>(command).socket == "/run/vm.sock");
        CHECK(error_of({verb}) == std::string(verb) + ": needs the control socket: brig " + verb + " SOCKET");
        CHECK(error_of({verb, "a", "b"}) == std::string(verb) + ": needs the control socket: brig " + verb + " SOCKET");
    }
    TempFile kernel;
    const RunOptions o = run_options({"run", "--kernel", kernel.path, "--socket", "/run/vm.sock", "--suspended"});
    CHECK(o.control_socket == std::filesystem::path("/run/vm.sock"));
    CHECK(o.suspended);
    CHECK_FALSE(run_options({"run", "--kernel", kernel.path}).suspended);
    CHECK(error_of({"run", "--kernel", kernel.path, "--suspended"}) ==
          "--suspended: needs --socket (brig resume SOCKET runs it)");
    CHECK_THAT(brig::main_help(), Contains("suspend"));
}

TEST_CASE("cli parses --log-file and --log-format", "[cli]") {
    TempFile kernel;
    const RunOptions o =
        run_options({"run", "--kernel", kernel.path, "--log-file", "/var/log/vm.log", "--log-format", "json"});
    CHECK(o.log_file == std::filesystem::path("/var/log/vm.log"));
    CHECK(o.log_format == brig::logging::Format::Json);
    CHECK(run_options({"run", "--kernel", kernel.path}).log_format == brig::logging::Format::Text);
    CHECK(error_of({"run", "--kernel", kernel.path, "--log-format", "xml"}) ==
          "--log-format: 'xml' is not text or json");
}

TEST_CASE("cli parses --cpu-affinity in crosvm's syntax", "[cli]") {
    TempFile kernel;
    auto all = run_options({"run", "--kernel", kernel.path, "--cpus", "2", "--cpu-affinity", "0,2-3"});
    REQUIRE(all.cpu_affinity);
    CHECK(all.cpu_affinity->all == std::vector<unsigned>{0, 2, 3});
    CHECK(all.cpu_affinity->for_vcpu(1) == std::vector<unsigned>{0, 2, 3});
    auto each = run_options({"run", "--kernel", kernel.path, "--cpus", "3", "--cpu-affinity", "0=0:2=1,3"});
    CHECK(each.cpu_affinity->for_vcpu(0) == std::vector<unsigned>{0});
    CHECK(each.cpu_affinity->for_vcpu(1).empty());  // not named: not pinned
    CHECK(each.cpu_affinity->for_vcpu(2) == std::vector<unsigned>{1, 3});
    auto err = [&](std::string_view value) {
        return error_of({"run", "--kernel", kernel.path, "--cpus", "2", "--cpu-affinity", value});
    };
    CHECK(err("3-1") == "--cpu-affinity: '3-1': the range runs backwards");
    CHECK(err("1,1") == "--cpu-affinity: CPU 1 is given twice");
    CHECK(err("0=0:0=1") == "--cpu-affinity: vCPU 0 is given twice");
    CHECK(err("2=0") == "--cpu-affinity: vCPU 2 does not exist (--cpus 2)");
    CHECK(err("0=0:x") == "--cpu-affinity: 'x' is not VCPU=CPUS");
    CHECK(err("1024") == "--cpu-affinity: 1024 is out of range (0..1023)");
    CHECK(err("") == "--cpu-affinity: '' is not a number");
}

TEST_CASE("cli parses --on-reboot and --max-reboots", "[cli]") {
    TempFile kernel;
    const RunOptions plain = run_options({"run", "--kernel", kernel.path});
    CHECK(plain.on_reboot == RunOptions::OnReboot::Exit);
    CHECK(plain.reboot_limit() == brig::kDefaultMaxReboots);
    const RunOptions restart =
        run_options({"run", "--kernel", kernel.path, "--on-reboot", "restart", "--max-reboots", "0"});
    CHECK(restart.on_reboot == RunOptions::OnReboot::Restart);
    CHECK(restart.reboot_limit() == 0);
    CHECK(run_options({"run", "--kernel", kernel.path, "--on-reboot=exit"}).on_reboot == RunOptions::OnReboot::Exit);
    CHECK(error_of({"run", "--kernel", kernel.path, "--on-reboot", "reboot"}) ==
          "--on-reboot: 'reboot' is not exit or restart");
    CHECK(error_of({"run", "--kernel", kernel.path, "--max-reboots", "3"}) ==
          "--max-reboots: needs --on-reboot restart");
    CHECK_THAT(error_of({"run", "--kernel", kernel.path, "--on-reboot", "restart", "--max-reboots", "-1"}),
               StartsWith("--max-reboots: "));
    CHECK_THAT(brig::run_help(), Contains("--on-reboot"));
}

TEST_CASE("cli parses --syslog-tag", "[cli]") {
    TempFile kernel;
    CHECK(run_options({"run", "--kernel", kernel.path, "--syslog-tag", "vm-1.web_2"}).syslog_tag == "vm-1.web_2");
    CHECK_FALSE(run_options({"run", "--kernel", kernel.path}).syslog_tag);
    CHECK(error_of({"run", "--kernel", kernel.path, "--syslog-tag", "a b"}) ==
          "--syslog-tag: 'a b': only letters, digits, '-', '_' and '.'");
    CHECK(error_of({"run", "--kernel", kernel.path, "--syslog-tag", std::string(33, 'x')}) ==
          "--syslog-tag: a tag is 1..32 characters");
    CHECK(error_of({"run", "--kernel", kernel.path, "--syslog-tag", "x]:"}) ==
          "--syslog-tag: 'x]:': only letters, digits, '-', '_' and '.'");
}

TEST_CASE("cli parses --cpus N with sockets, cores and threads", "[cli]") {
    TempFile kernel;
    const RunOptions flat = run_options({"run", "--kernel", kernel.path, "--cpus", "4"});
    CHECK(flat.cpus == 4);
    CHECK(flat.topology.sockets == 1);
    CHECK(flat.topology.cores == 4);
    CHECK(flat.topology.threads == 1);
    const RunOptions shaped = run_options({"run", "--kernel", kernel.path, "--cpus", "12,sockets=2,threads=2"});
    CHECK(shaped.cpus == 12);
    CHECK(shaped.topology.sockets == 2);
    CHECK(shaped.topology.cores == 3);  // what sockets and threads leave of 12
    CHECK(shaped.topology.threads == 2);
    CHECK(shaped.topology.count() == shaped.cpus);
    CHECK(error_of({"run", "--kernel", kernel.path, "--cpus", "5,threads=2"}) ==
          "--cpus: '5,threads=2': sockets x cores x threads is 1 x 2 x 2 = 4, not 5");
    CHECK(error_of({"run", "--kernel", kernel.path, "--cpus", "0"}).rfind("--cpus: ", 0) == 0);
}

TEST_CASE("cli parses --hugepages", "[cli]") {
    TempFile kernel;
    CHECK(run_options({"run", "--kernel", kernel.path, "--hugepages"}).hugepages);
    CHECK_FALSE(run_options({"run", "--kernel", kernel.path}).hugepages);
    CHECK_THAT(brig::run_help(), Contains("--hugepages"));
}

TEST_CASE("cli parses crosvm's --serial: hardware, num, stdin, console, type=unix; the short forms stay", "[cli]") {
    TempFile kernel;
    const std::string k = kernel.path;
    const RunOptions android =
        run_options({"run", "--kernel", k, "--serial", "type=stdout,hardware=serial,num=1,console=true", "--serial",
                     "type=file,path=/tmp/reason,num=2", "--serial", "type=sink,hardware=virtio-console,num=1",
                     "--serial", "type=file,path=/tmp/hvc1,hardware=virtio-console,num=2", "--serial",
                     "type=unix,path=/run/hvc2.sock,hardware=virtio-console,num=3"});
    CHECK(android.serial.kind == ConsoleOutput::Kind::Stdout);
    REQUIRE(android.more_serial_ports.size() == 1);
    CHECK(android.more_serial_ports.at(2).path == "/tmp/reason");
    REQUIRE(android.virtio_console);
    CHECK(android.virtio_console->kind == ConsoleOutput::Kind::Sink);
    REQUIRE(android.more_consoles.size() == 2);
    CHECK(android.more_consoles[0].path == "/tmp/hvc1");
    CHECK(android.more_consoles[1].kind == ConsoleOutput::Kind::Unix);
    CHECK(android.more_consoles[1].path == "/run/hvc2.sock");
    CHECK(android.cmdline.ends_with(" console=ttyS0"));
    CHECK(stdin_console(android) == StdinConsole::Serial);

    // stdin=true moves the operator's input; stdin=false keeps it from the default reader.
    CHECK(stdin_console(run_options(
              {"run", "--kernel", k, "--serial", "type=stdout,hardware=virtio-console,num=1,stdin=true"})) ==
          StdinConsole::VirtioConsole);
    CHECK(stdin_console(run_options({"run", "--kernel", k, "--serial", "type=stdout,stdin=false"})) ==
          StdinConsole::None);
    // The short forms: COM1 and hvc0.
    const RunOptions short_forms = run_options({"run", "--kernel", k, "--serial", "sink", "--console", "file=/tmp/c"});
    CHECK(short_forms.serial.kind == ConsoleOutput::Kind::Sink);
    REQUIRE(short_forms.virtio_console);
    CHECK(short_forms.virtio_console->path == "/tmp/c");

    CHECK(error_of({"run", "--kernel", k, "--serial", "type=sink,num=2", "--serial", "type=sink,num=2"}) ==
          "--serial: ttyS1 is given twice");
    CHECK(error_of({"run", "--kernel", k, "--console", "sink", "--serial", "type=sink,hardware=virtio-console"}) ==
          "--serial: hvc0 is given twice");
    CHECK(error_of({"run", "--kernel", k, "--serial", "type=sink,hardware=virtio-console,num=3"}) ==
          "--serial: hvc2 without hvc0: virtio consoles are numbered from hvc0 without gaps");
    CHECK(error_of({"run", "--kernel", k, "--serial", "type=sink,num=2,stdin=true"}) ==
          "--serial: ttyS1: stdin=true: brig feeds stdin to ttyS0 or hvc0 only");
    CHECK(error_of({"run", "--kernel", k, "--serial", "type=sink,hardware=pci"}) ==
          "--serial: hardware=pci: serial or virtio-console");
    CHECK(error_of({"run", "--kernel", k, "--serial", "type=sink,num=5"}) ==
          "--serial: 'type=sink,num=5': hardware=serial is COM1..COM4 (num=1..4)");
    CHECK_THAT(error_of({"run", "--kernel", k, "--serial", "type=unix"}),
               StartsWith("--serial: 'type=unix' is not one of"));
    CHECK(error_of({"run", "--kernel", k, "--serial", "type=sink,console=maybe"}) ==
          "--serial: console=maybe: true or false");
}
