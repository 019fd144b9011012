// The command line: `brig run ...`, `brig --help`, `brig --version`. The flags of
// `brig run` are one table in cli.cpp (name, metavariable, help, handler), which CLI11
// parses and from which `brig run --help`, `--config FILE` (TOML, the same keys) and
// find_failure_file come. Parsing is pure (no side effects beyond checking that named
// files are readable) so it is tested directly; every error is one line naming the
// flag, an InvalidArgument, and exits 35.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ipc/mac_address.h"
#include "vmm/board/cpu_topology.h"
#include "vmm/logging.h"
#include "vmm/sandbox/jail_ids.h"

namespace brig {

// --max-reboots' default: enough for a guest that reboots to apply an update, few
// enough that a guest in a reset loop ends with exit 32 within seconds.
constexpr unsigned kDefaultMaxReboots = 10;

struct ConsoleOutput {
    // Unix: a listening stream socket brig connects to (and the device reads it too).
    // Syslog: each line to syslog, tagged with the port's name (ttyS1, hvc0).
    enum class Kind { Stdout, File, Sink, Unix, Syslog };
    Kind kind = Kind::Stdout;
    std::filesystem::path path;     // Kind::File and Kind::Unix
    std::string flag = "--serial";  // for error messages
};

// Which console reads the operator's stdin (see stdin_console()).
enum class StdinConsole { None, Serial, VirtioConsole };

// One of crosvm's --serial: where the output goes, which hardware the guest sees,
// and whether it reads stdin or is the kernel's console.
struct SerialOption {
    enum class Hardware { Serial, VirtioConsole };
    ConsoleOutput output;
    Hardware hardware = Hardware::Serial;
    unsigned num = 1;                 // COM1..COM4 (ttyS0..3), or hvc0.. as num 1..
    std::optional<bool> reads_stdin;  // stdin=BOOL
    bool kernel_console = false;      // console=true: console=ttyS<n>/hvc<n> on the command line
};

struct DiskOption {
    std::filesystem::path path;
    bool read_only = false;
};

// --net: a virtio-net device on an existing TAP, named or passed as an fd.
struct NetOption {
    std::optional<std::string> tap_name;  // tap-name=NAME: brig attaches to this TAP
    std::optional<int> tap_fd;            // tap-fd=N: a TAP fd the caller opened and passed
    std::optional<ipc::MacAddress> mac;   // mac=; without it, one derived from the TAP's name
};

// --vsock: a virtio-vsock device whose host side is unix sockets (Firecracker's hybrid
// vsock): host programs connect to `socket`, guest connections to port P go to
// `socket`_P.
struct VsockOption {
    uint64_t cid = 0;  // the guest's CID, 3 and up
    std::filesystem::path socket;
};

// --cpu-affinity, crosvm's syntax: "0,1-3" pins every vCPU to that set; "0=0:1=1,2"
// pins vCPU by vCPU (a vCPU not named is not pinned).
struct CpuAffinity {
    std::vector<unsigned> all;                                         // the set for every vCPU, or empty
    std::vector<std::pair<unsigned, std::vector<unsigned>>> per_vcpu;  // (vCPU, its set)
    // The host CPUs vCPU `index` may run on; empty: not pinned.
    const std::vector<unsigned>& for_vcpu(unsigned index) const;
};

struct RunOptions {
    std::filesystem::path kernel;
    std::optional<std::filesystem::path> initrd;
    std::string cmdline = "console=ttyS0 reboot=k panic=-1";
    uint64_t mem_mib = 256;
    unsigned cpus = 1;
    CpuTopology topology;  // --cpus N,sockets=...: its count() is always `cpus`
    ConsoleOutput serial;  // COM1
    // --serial hardware=serial,num=2..4: COM2..COM4, by number.
    std::map<unsigned, ConsoleOutput> more_serial_ports;
    std::vector<DiskOption> disks;                // --disk, in order: virtio-blk0, 1, ...
    bool rng = true;                              // virtio-rng, on unless --no-rng
    std::optional<ConsoleOutput> virtio_console;  // --console, or --serial hardware=virtio-console,num=1: hvc0
    std::vector<ConsoleOutput> more_consoles;     // --serial hardware=virtio-console,num=2..: hvc1, hvc2, ...
    std::vector<SerialOption> serial_flags;       // every --serial, before parse_run() places them
    std::optional<StdinConsole> stdin_choice;     // --serial ...,stdin=BOOL
    std::vector<NetOption> nets;                  // --net, in order: virtio-net0, 1, ...
    spdlog::level::level_enum log_level = spdlog::level::info;
    logging::Format log_format = logging::Format::Text;  // --log-format
    std::optional<std::filesystem::path> log_file;       // --log-file
    std::optional<std::string> syslog_tag;               // --syslog-tag
    bool hugepages = false;                              // --hugepages: guest RAM on 2 MiB pages
    // Devices run in-process instead of in jailed brig-device processes (debugging only).
    bool disable_sandbox = false;
    // The unprivileged ids a device process runs as, inside and outside its user namespace:
    // by default an id of its own from `jail_ids` (uid = gid); with --jail-user, these
    // ids, shared by every device of the VM.
    struct JailUser {
        uint32_t uid;
        uint32_t gid;
    };
    std::optional<JailUser> jail_user;
    JailIdRange jail_ids = kDefaultJailIds;
    // --cgroup-parent: each device in a cgroup of its own under this path (see
    // sandbox/device_cgroup.h), with memory and task limits.
    std::optional<std::string> cgroup_parent;
    std::optional<std::filesystem::path> failure_file;
    // Where device and thread policies come from (default: the installed/source policies/).
    std::optional<std::filesystem::path> policy_dir;
    // kill: a violation kills the device (default). log: every violation is reported and
    // allowed. learn: every syscall a device makes is recorded and allowed, and proposed
    // minimal policies are written to policy_out at exit.
    enum class SeccompMode { Kill, Log, Learn };
    SeccompMode seccomp_mode = SeccompMode::Kill;
    std::optional<std::filesystem::path> policy_out;
    std::optional<unsigned> boot_timeout_seconds;
    std::optional<VsockOption> vsock;
    // --ready-port: the guest connecting to this host vsock port is "ready"; then
    // --boot-timeout waits for that instead of the first console byte.
    std::optional<uint32_t> ready_port;
    // --socket: the control socket (brig stop|suspend|resume|status|events).
    std::optional<std::filesystem::path> control_socket;
    // --suspended: built, devices active, no vCPU runs until `brig resume`.
    bool suspended = false;
    std::optional<CpuAffinity> cpu_affinity;  // --cpu-affinity
    // --on-reboot: what a guest reset does. Exit (crosvm's exit 32), or restart: a
    // reboot in place (supervisor.cpp), at most max_reboots times, then exit 32.
    enum class OnReboot { Exit, Restart };
    OnReboot on_reboot = OnReboot::Exit;
    std::optional<unsigned> max_reboots;
    unsigned reboot_limit() const { return max_reboots.value_or(kDefaultMaxReboots); }
};

struct HelpRequest {
    std::string text;
};
struct VersionRequest {};

// `brig policy SUBCOMMAND ...`: the arguments after "policy", parsed by the policy tool.
struct PolicyCommand {
    std::vector<std::string> args;
};

// `brig stop|suspend|resume|status|events SOCKET`: a request on a running VM's control
// socket (brig run --socket).
struct ControlCommand {
    std::string verb;
    std::filesystem::path socket;
};

using Command = std::variant<HelpRequest, VersionRequest, RunOptions, PolicyCommand, ControlCommand>;

// `args` excludes argv[0]. Throws InvalidArgument.
Command parse_command_line(const std::vector<std::string_view>& args);
// Which console reads the operator's stdin: the UART when it writes to stdout, else
// the virtio console when it does, else none. Decided here and nowhere else.
StdinConsole stdin_console(const RunOptions& options);

// UID or UID:GID (a bare UID is the group too), each 1..0xfffffffe: the one parser of
// --jail-user, for `brig run` and `brig policy show`. Throws InvalidArgument.
RunOptions::JailUser parse_jail_user(std::string_view flag, std::string_view text);

// The value of --failure-file in a `brig run` command line, found before parsing so
// that a parse error is recorded too. It follows the parser's grammar (the table's flags
// that take a value take one, inline or as the next word), not its checks; a
// failure-file key in a --config file is not seen here.
std::optional<std::string_view> find_failure_file(const std::vector<std::string_view>& args);

// Generated by CLI11: `brig --help` from the commands, `brig run --help` from the table.
std::string main_help();
std::string run_help();

}  // namespace brig
