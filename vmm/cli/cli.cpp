#include "vmm/cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <set>

#include "vmm/error.h"
#include "vmm/memory/layout.h"

namespace brig {
namespace {

constexpr uint64_t kMinMemMib = 16;
constexpr uint64_t kMaxMemMib = 1024 * 1024;  // 1 TiB
constexpr unsigned kMaxCpus = 254;            // APIC ids below the broadcast id, one IOAPIC id spare
// Every virtio-mmio window but the two that --rng and --console may take.
constexpr size_t kMaxDisks = layout::kVirtioMmioWindows - 2;
constexpr uint64_t kMaxBootTimeoutSeconds = 24 * 3600;
constexpr uint64_t kMaxJailId = 0xfffffffe;   // (uid_t)-1 means "unchanged" to setresuid
// The `brig run` flags that take no value; find_failure_file skips a value after every
// other flag `brig run --help` lists (an unknown flag ends parsing: it has none).
constexpr std::string_view kSwitches[] = {"--rng", "--no-rng", "--disable-sandbox", "--help"};

[[noreturn]] void fail(std::string_view flag, const std::string& problem) {
    throw InvalidArgument(std::string(flag) + ": " + problem);
}

uint64_t parse_number(std::string_view flag, std::string_view text, uint64_t min, uint64_t max) {
    uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end)
        fail(flag, "'" + std::string(text) + "' is not a number");
    if (value < min || value > max)
        fail(flag, std::to_string(value) + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
    return value;
}

std::filesystem::path readable_file(std::string_view flag, std::string_view text) {
    if (text.empty()) fail(flag, "empty path");
    std::filesystem::path path(text);
    if (access(path.c_str(), R_OK) != 0) fail(flag, "cannot open " + path.string() + ": " + std::strerror(errno));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail(flag, path.string() + " is not a regular file");
    return path;
}

ConsoleOutput parse_console(std::string_view flag, std::string_view text) {
    if (text == "stdout") return {ConsoleOutput::Kind::Stdout, {}, std::string(flag)};
    if (text == "sink") return {ConsoleOutput::Kind::Sink, {}, std::string(flag)};
    if (text.starts_with("file=") && text.size() > 5)
        return {ConsoleOutput::Kind::File, std::string(text.substr(5)), std::string(flag)};
    fail(flag, "'" + std::string(text) + "' is not one of stdout, file=PATH, sink");
}

spdlog::level::level_enum parse_log_level(std::string_view flag, std::string_view text) {
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off},
    };
    for (const auto& [name, level] : kLevels)
        if (text == name) return level;
    fail(flag, "'" + std::string(text) + "' is not one of trace, debug, info, warn, error, off");
}

// PATH or PATH,ro. The file must exist: brig never creates disks.
DiskOption parse_disk(std::string_view flag, std::string_view text) {
    DiskOption disk;
    if (text.ends_with(",ro")) {
        disk.read_only = true;
        text.remove_suffix(3);
    }
    if (text.find(',') != std::string_view::npos)
        fail(flag, "'" + std::string(text) + "': the only option is ,ro");
    disk.path = readable_file(flag, text);
    return disk;
}


// FIRST-LAST, inclusive.
JailIdRange parse_jail_ids(std::string_view flag, std::string_view text) {
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) fail(flag, "'" + std::string(text) + "' is not FIRST-LAST");
    const auto first = parse_number(flag, text.substr(0, dash), 1, kMaxJailId);
    const auto last = parse_number(flag, text.substr(dash + 1), 1, kMaxJailId);
    if (first > last) fail(flag, "'" + std::string(text) + "': FIRST is above LAST");
    return {static_cast<uint32_t>(first), static_cast<uint32_t>(last)};
}

RunOptions parse_run(const std::vector<std::string_view>& args, size_t first) {
    RunOptions opts;
    bool have_kernel = false;
    std::set<std::string_view> seen;
    for (size_t i = first; i < args.size(); ++i) {
        std::string_view flag = args[i];
        std::optional<std::string_view> inline_value;
        if (auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
            inline_value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        if (!flag.starts_with("--")) fail(flag, "unexpected argument (flags start with --)");
        if (flag == "--help") throw InvalidArgument("--help: give it alone, as `brig run --help`");
        if (flag != "--disk" && !seen.insert(flag).second) fail(flag, "given more than once");
        auto value = [&]() -> std::string_view {
            if (inline_value) return *inline_value;
            if (i + 1 >= args.size()) fail(flag, "missing value");
            return args[++i];
        };
        if (flag == "--kernel") {
            opts.kernel = readable_file(flag, value());
            have_kernel = true;
        } else if (flag == "--initrd") {
            opts.initrd = readable_file(flag, value());
        } else if (flag == "--cmdline") {
            opts.cmdline = std::string(value());
        } else if (flag == "--mem") {
            opts.mem_mib = parse_number(flag, value(), kMinMemMib, kMaxMemMib);
            if (opts.mem_mib % 2 != 0) fail(flag, "must be a multiple of 2 MiB");
        } else if (flag == "--cpus") {
            opts.cpus = static_cast<unsigned>(parse_number(flag, value(), 1, kMaxCpus));
        } else if (flag == "--serial") {
            opts.serial = parse_console(flag, value());
        } else if (flag == "--log-level") {
            opts.log_level = parse_log_level(flag, value());
        } else if (flag == "--disk") {
            opts.disks.push_back(parse_disk(flag, value()));
            if (opts.disks.size() > kMaxDisks) fail(flag, "at most " + std::to_string(kMaxDisks) + " disks");
        } else if (flag == "--rng") {
            if (inline_value) fail(flag, "takes no value");
            opts.rng = true;
        } else if (flag == "--no-rng") {
            if (inline_value) fail(flag, "takes no value");
            opts.rng = false;
        } else if (flag == "--console") {
            opts.virtio_console = parse_console(flag, value());
        } else if (flag == "--policy-dir") {
            const std::string_view dir = value();
            if (dir.empty()) fail(flag, "empty path");
            opts.policy_dir = std::filesystem::path(dir);
        } else if (flag == "--seccomp") {
            const std::string_view mode = value();
            if (mode == "kill") opts.seccomp_mode = RunOptions::SeccompMode::Kill;
            else if (mode == "log") opts.seccomp_mode = RunOptions::SeccompMode::Log;
            else if (mode == "learn") opts.seccomp_mode = RunOptions::SeccompMode::Learn;
            else fail(flag, "'" + std::string(mode) + "' is not one of kill, log, learn");
        } else if (flag == "--policy-out") {
            const std::string_view dir = value();
            if (dir.empty()) fail(flag, "empty path");
            opts.policy_out = std::filesystem::path(dir);
        } else if (flag == "--disable-sandbox") {
            if (inline_value) fail(flag, "takes no value");
            opts.disable_sandbox = true;
        } else if (flag == "--jail-user") {
            opts.jail_user = parse_jail_user(flag, value());
        } else if (flag == "--jail-ids") {
            opts.jail_ids = parse_jail_ids(flag, value());
        } else if (flag == "--cgroup-parent") {
            const std::string_view path = value();
            if (path.empty()) fail(flag, "empty path");
            if (path.find("..") != std::string_view::npos) fail(flag, "'" + std::string(path) + "': no '..'");
            opts.cgroup_parent = std::string(path);
        } else if (flag == "--failure-file") {
            const std::string_view path = value();
            if (path.empty()) fail(flag, "empty path");
            opts.failure_file = std::filesystem::path(path);
        } else if (flag == "--boot-timeout") {
            opts.boot_timeout_seconds = static_cast<unsigned>(parse_number(flag, value(), 1, kMaxBootTimeoutSeconds));
        } else {
            fail(flag, "unknown flag (see `brig run --help`)");
        }
    }
    if (!have_kernel) fail("--kernel", "required (see `brig run --help`)");
    if (opts.seccomp_mode == RunOptions::SeccompMode::Learn && !opts.policy_out)
        fail("--seccomp", "learn needs --policy-out DIR for the proposed policies");
    if (opts.jail_user && seen.count("--jail-ids")) fail("--jail-ids", "give either --jail-user or --jail-ids");
    if (opts.cgroup_parent && opts.disable_sandbox) fail("--cgroup-parent", "places device processes; --disable-sandbox has none");
    if (opts.policy_out && opts.seccomp_mode != RunOptions::SeccompMode::Learn)
        fail("--policy-out", "only with --seccomp=learn");
    return opts;
}

}  // namespace

namespace {

// Whether `word` is a flag that `brig run --help` lists with a value.
bool takes_value(std::string_view word) {
    if (std::find(std::begin(kSwitches), std::end(kSwitches), word) != std::end(kSwitches)) return false;
    const std::string help = run_help();
    for (size_t at = help.find(word); at != std::string::npos; at = help.find(word, at + 1)) {
        // "  --flag VALUE  ..." or "--other, --flag VALUE"
        const bool starts_flag = at >= 2 && (help.compare(at - 2, 2, "  ") == 0 || help.compare(at - 2, 2, ", ") == 0);
        const char after = at + word.size() < help.size() ? help[at + word.size()] : '\n';
        if (starts_flag && (after == ' ' || after == ',')) return true;
    }
    return false;
}

}  // namespace

std::optional<std::string_view> find_failure_file(const std::vector<std::string_view>& args) {
    if (args.empty() || args[0] != "run") return std::nullopt;
    constexpr std::string_view kFlag = "--failure-file";
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string_view word = args[i];
        if (word == kFlag) return i + 1 < args.size() && !args[i + 1].empty() ? std::optional(args[i + 1]) : std::nullopt;
        if (word.starts_with(kFlag) && word[kFlag.size()] == '=') {
            const auto value = word.substr(kFlag.size() + 1);
            return value.empty() ? std::nullopt : std::optional(value);
        }
        if (word.starts_with("--") && word.find('=') == std::string_view::npos && takes_value(word)) ++i;  // its value
    }
    return std::nullopt;
}

StdinConsole stdin_console(const RunOptions& options) {
    if (options.serial.kind == ConsoleOutput::Kind::Stdout) return StdinConsole::Serial;
    if (options.virtio_console && options.virtio_console->kind == ConsoleOutput::Kind::Stdout)
        return StdinConsole::VirtioConsole;
    return StdinConsole::None;
}

RunOptions::JailUser parse_jail_user(std::string_view flag, std::string_view text) {
    const auto colon = text.find(':');
    const auto uid = parse_number(flag, text.substr(0, colon), 1, kMaxJailId);
    const auto gid = colon == std::string_view::npos ? uid : parse_number(flag, text.substr(colon + 1), 1, kMaxJailId);
    return RunOptions::JailUser{static_cast<uint32_t>(uid), static_cast<uint32_t>(gid)};
}

std::string main_help() {
    return "brig " BRIG_VERSION " - a privilege-separated virtual machine monitor for Linux/KVM\n"
           "\n"
           "Usage:\n"
           "  brig run --kernel PATH [options]   boot a guest (see `brig run --help`)\n"
           "  brig policy COMMAND ...            inspect and audit the sandboxes (see `brig policy help`)\n"
           "  brig --help                        this text\n"
           "  brig --version                     print the version\n"
           "\n"
           "Exit status: 0 guest powered off, 32 guest reset, 33 a device crashed,\n"
           "34 guest panic, 35 invalid arguments, 36 boot timeout (hang), 1 internal error.\n";
}

std::string run_help() {
    return "Usage: brig run --kernel PATH [options]\n"
           "\n"
           "  --kernel PATH        bzImage, or an ELF kernel with a PVH entry note (vmlinux)\n"
           "  --initrd PATH        initial ramdisk\n"
           "  --cmdline STR        kernel command line (default: \"console=ttyS0 reboot=k panic=-1\")\n"
           "  --mem MIB            guest memory in MiB, a multiple of 2 (default 256, minimum 16)\n"
           "  --cpus N             number of vCPUs, 1..254 (default 1)\n"
           "  --serial OUT         COM1 output: stdout (default; reads stdin too), file=PATH, sink\n"
           "  --disk PATH[,ro]     a raw disk image (a regular file, whole 512-byte sectors) as virtio-blk;\n"
           "                       repeatable, up to " + std::to_string(kMaxDisks) + "; ,ro: read-only. A writable image is locked for\n"
           "                       this VM alone, a read-only one may be shared with other readers;\n"
           "                       qcow2, VMDK, VHD(X), VDI, QED and LUKS images are refused\n"
           "  --rng, --no-rng      virtio-rng entropy device (default: on)\n"
           "  --console OUT        a virtio console (hvc0): stdout, file=PATH, sink (default: none)\n"
           "  --log-level LEVEL    trace, debug, info (default), warn, error, off; logs go to stderr\n"
           "  --jail-ids FIRST-LAST  each device runs as a uid/gid of its own from this range, held with a lock\n"
           "                       in /run/brig/ids while the VM runs (default 400000-499999; reserve it for brig)\n"
           "  --jail-user UID[:GID]  instead: every device of this VM runs as these ids (they share its task limit)\n"
           "  --cgroup-parent PATH each device in a cgroup of its own under PATH (memory and task limits; cgroup v2,\n"
           "                       or the v1 memory and pids hierarchies). PATH starting with / is from the\n"
           "                       hierarchy's root, else from brig's own cgroup\n"
           "  --failure-file PATH  write why brig stopped, one machine-readable line (SHUTDOWN, REBOOT, ...)\n"
           "  --boot-timeout SEC   stop with HANGUP (exit 36) if the guest prints nothing on the console in time\n"
           "  --policy-dir DIR     seccomp policies to use instead of the shipped ones\n"
           "  --seccomp MODE       kill (default): a violation kills the device; log: report every violation,\n"
           "                       allow it; learn: record every syscall, write proposed policies (--policy-out)\n"
           "  --policy-out DIR     with --seccomp=learn: where the proposed minimal policies go\n"
           "  --disable-sandbox    run devices inside the brig process (debugging only: no jails, no seccomp)\n"
           "\n"
           "The console on stdout reads stdin. On a terminal brig puts it in raw mode while it is in the\n"
           "foreground (a background `brig run ... &` leaves it alone until `fg`): every key, Ctrl-C and\n"
           "Ctrl-Z included, goes to the guest, except brig's escapes:\n"
           "  Ctrl-A x             stop the VM (like SIGTERM: exit 0, record KILLED console=ctrl-a-x)\n"
           "  Ctrl-A Ctrl-A        send one Ctrl-A to the guest\n"
           "\n"
           "Files brig writes (--serial/--console file=, --failure-file, --policy-out) are never opened\n"
           "through a symbolic link: a link there is refused (exit 35).\n"
           "\n"
           "brig's last line on stderr says why it stopped, `brig: RECORD: detail` (all --log-levels but off);\n"
           "--failure-file gets `RECORD fields`. The records and exit codes are listed in the README.\n";
}

Command parse_command_line(const std::vector<std::string_view>& args) {
    if (args.empty()) throw InvalidArgument("missing command (see `brig --help`)");
    const std::string_view command = args[0];
    if (command == "--help" || command == "-h" || command == "help") {
        if (args.size() > 1) fail(command, "takes no arguments");
        return HelpRequest{main_help()};
    }
    if (command == "--version" || command == "-V") {
        if (args.size() > 1) fail(command, "takes no arguments");
        return VersionRequest{};
    }
    if (command == "policy") return PolicyCommand{std::vector<std::string>(args.begin() + 1, args.end())};
    if (command == "run") {
        if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) return HelpRequest{run_help()};
        return parse_run(args, 1);
    }
    if (command.starts_with("-")) fail(command, "unknown flag (see `brig --help`)");
    throw InvalidArgument("unknown command '" + std::string(command) + "' (see `brig --help`)");
}

}  // namespace brig
