#include "vmm/cli/cli.h"

#include "ipc/sandbox/profiles.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <sstream>

#include "vmm/cli/key_values.h"
#include "vmm/cli/suggest.h"
#include "vmm/error.h"
#include "vmm/memory/layout.h"

namespace brig {
namespace {

constexpr uint64_t kMinMemMib = 16;
constexpr uint64_t kMaxMemMib = 1024 * 1024;  // 1 TiB
constexpr unsigned kMaxCpus = 254;            // APIC ids below the broadcast id, one IOAPIC id spare
// Every virtio-mmio window but the two that --rng and --console may take; --disk and
// --net share them.
constexpr size_t kMaxDisks = layout::kVirtioMmioWindows - 2;
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr uint64_t kMaxBootTimeoutSeconds = 24 * 3600;
constexpr uint64_t kMaxReboots = 1000000;
constexpr size_t kMaxSyslogTag = 32;  // RFC 3164's TAG
// hvc0..hvc7: more than Android's three, few enough to leave windows for the disks.
constexpr uint64_t kMaxConsoles = 8;
constexpr uint64_t kMaxJailId = 0xfffffffe;  // (uid_t)-1 means "unchanged" to setresuid
constexpr size_t kHelpColumn = 26;           // where `brig run --help` starts a flag's text

[[noreturn]] void fail(std::string_view flag, const std::string& problem) {
    throw InvalidArgument(std::string(flag) + ": " + problem);
}

uint64_t parse_number(std::string_view flag, std::string_view text, uint64_t min, uint64_t max) {
    uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) fail(flag, "'" + std::string(text) + "' is not a number");
    if (value < min || value > max)
        fail(flag,
             std::to_string(value) + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
    return value;
}

// --mem: a number of MiB, or a size with a binary suffix, K, M, G or T (KiB, MiB, GiB and
// TiB too, any case): 1024K, 512M, 1G. Whole MiB only, in range, a multiple of 2 MiB.
uint64_t parse_mem_mib(std::string_view flag, std::string_view text) {
    const auto* end = text.data() + text.size();
    uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    std::string suffix(ptr, end);
    std::transform(suffix.begin(), suffix.end(), suffix.begin(), [](unsigned char c) { return std::tolower(c); });
    static constexpr std::pair<std::string_view, unsigned> kSuffixes[] = {
        {"", 20}, {"k", 10}, {"kib", 10}, {"m", 20}, {"mib", 20}, {"g", 30}, {"gib", 30}, {"t", 40}, {"tib", 40},
    };
    const auto* unit =
        std::find_if(std::begin(kSuffixes), std::end(kSuffixes), [&](const auto& s) { return s.first == suffix; });
    const std::string range = " is out of range (16 MiB to 1 TiB)";
    if (ec == std::errc::result_out_of_range && ptr != text.data() && unit != std::end(kSuffixes))
        fail(flag, std::string(text) + range);
    if (text.empty() || ec != std::errc()) fail(flag, "'" + std::string(text) + "' is not a number");
    if (unit == std::end(kSuffixes))
        fail(flag, "'" + std::string(text) + "' is not a number, nor a size with a suffix K, M, G or T (512M, 1G)");
    if (value > (UINT64_MAX >> unit->second)) fail(flag, std::string(text) + range);
    const uint64_t bytes = value << unit->second;
    if (bytes % (1 << 20) != 0) fail(flag, std::string(text) + " is not a whole number of MiB");
    const uint64_t mib = bytes >> 20;
    if (mib < kMinMemMib || mib > kMaxMemMib) fail(flag, std::string(text) + range);
    if (mib % 2 != 0) fail(flag, "must be a multiple of 2 MiB");
    return mib;
}

// Why CLI11 must not read --config's file, or "" when it may: it reads the whole file
// before brig sees a word of it, so a device (/dev/zero) would never end.
constexpr uintmax_t kMaxConfigBytes = 1 << 20;
std::string config_file_problem(const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) return "";  // CLI11 and readable_file name the reason
    if (!std::filesystem::is_regular_file(status)) return path + " is not a regular file";
    if (std::filesystem::file_size(path, ec) > kMaxConfigBytes && !ec)
        return path + " is larger than " + std::to_string(kMaxConfigBytes) + " bytes";
    return "";
}

std::filesystem::path readable_file(std::string_view flag, std::string_view text) {
    if (text.empty()) fail(flag, "empty path");
    std::filesystem::path path(text);
    if (access(path.c_str(), R_OK) != 0) fail(flag, "cannot open " + path.string() + ": " + std::strerror(errno));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail(flag, path.string() + " is not a regular file");
    return path;
}

[[noreturn]] void not_a_console(std::string_view flag, std::string_view text) {
    fail(flag, "'" + std::string(text) +
                   "' is not one of stdout, file=PATH, sink (or type=stdout|file|sink|unix|syslog[,path=PATH])");
}

// stdout, sink, file=PATH, or crosvm's type=stdout|sink|file|unix[,path=PATH].
ConsoleOutput console_output(std::string_view flag, std::string_view text, const std::vector<KeyValue>& items) {
    const auto value_of = [&](std::string_view key) -> std::optional<std::string> {
        for (const auto& item : items)
            if (item.key == key) return item.value ? item.value : std::optional<std::string>("");
        return std::nullopt;
    };
    std::string kind;
    std::optional<std::string> path;
    if (items.size() == 1 && !items[0].value) {
        kind = items[0].key;  // stdout, sink
    } else if (items.size() == 1 && items[0].key == "file") {
        kind = "file";
        path = items[0].value;
    } else if (value_of("type") && items.size() == (value_of("path") ? 2u : 1u)) {
        kind = *value_of("type");
        path = value_of("path");
    } else {
        not_a_console(flag, text);
    }
    if (kind == "stdout" && !path) return {ConsoleOutput::Kind::Stdout, {}, std::string(flag)};
    if (kind == "sink" && !path) return {ConsoleOutput::Kind::Sink, {}, std::string(flag)};
    if (kind == "syslog" && !path) return {ConsoleOutput::Kind::Syslog, {}, std::string(flag)};
    if (kind == "file" && path && !path->empty()) return {ConsoleOutput::Kind::File, *path, std::string(flag)};
    if (kind == "unix" && path && !path->empty()) return {ConsoleOutput::Kind::Unix, *path, std::string(flag)};
    not_a_console(flag, text);
}

ConsoleOutput parse_console(std::string_view flag, std::string_view text) {
    return console_output(flag, text, parse_key_values(flag, text));
}

bool parse_bool(std::string_view flag, const std::string& key, const std::optional<std::string>& value) {
    if (!value || *value == "true") return true;  // a bare key is true
    if (*value == "false") return false;
    fail(flag, key + "=" + *value + ": true or false");
}

// crosvm's --serial: the output (as for --console) plus hardware=serial|virtio-console,
// num=N, stdin=BOOL, console=BOOL.
SerialOption parse_serial(std::string_view flag, std::string_view text) {
    SerialOption serial;
    std::vector<KeyValue> output;
    for (auto& item : parse_key_values(flag, text)) {
        if (item.key == "hardware") {
            if (item.value == "serial")
                serial.hardware = SerialOption::Hardware::Serial;
            else if (item.value == "virtio-console")
                serial.hardware = SerialOption::Hardware::VirtioConsole;
            else
                fail(flag, "hardware=" + item.value.value_or("") + ": serial or virtio-console");
        } else if (item.key == "num") {
            serial.num = static_cast<unsigned>(parse_number(flag, item.value.value_or(""), 1, kMaxConsoles));
        } else if (item.key == "stdin") {
            serial.reads_stdin = parse_bool(flag, item.key, item.value);
        } else if (item.key == "console") {
            serial.kernel_console = parse_bool(flag, item.key, item.value);
        } else {
            output.push_back(std::move(item));
        }
    }
    if (serial.hardware == SerialOption::Hardware::Serial && serial.num > layout::kComPorts.size())
        fail(flag, "'" + std::string(text) + "': hardware=serial is COM1..COM" +
                       std::to_string(layout::kComPorts.size()) + " (num=1.." +
                       std::to_string(layout::kComPorts.size()) + ")");
    serial.output = output.empty() ? ConsoleOutput{ConsoleOutput::Kind::Stdout, {}, std::string(flag)}
                                   : console_output(flag, text, output);
    return serial;
}

// Every --serial in its place: COM1 and hvc0 where the short forms put them, the rest
// by number (consoles numbered without gaps, as the guest will find them), stdin to
// at most one, and console=true onto the kernel command line.
void place_serial_flags(RunOptions& o) {
    bool com1 = false;
    std::map<unsigned, ConsoleOutput> consoles;
    if (o.virtio_console) consoles.emplace(1, *o.virtio_console);  // --console
    std::optional<StdinConsole> wanted;
    std::optional<StdinConsole> refused;  // stdin=false on ttyS0 or hvc0
    for (const SerialOption& s : o.serial_flags) {
        const bool uart = s.hardware == SerialOption::Hardware::Serial;
        const std::string name = uart ? "ttyS" + std::to_string(s.num - 1) : "hvc" + std::to_string(s.num - 1);
        bool fresh;
        if (uart && s.num == 1) {
            fresh = !std::exchange(com1, true);
            o.serial = s.output;
        } else if (uart) {
            fresh = o.more_serial_ports.emplace(s.num, s.output).second;
        } else {
            fresh = consoles.emplace(s.num, s.output).second;
        }
        if (!fresh) fail("--serial", name + " is given twice");
        if (s.reads_stdin.value_or(false)) {
            if (s.num != 1) fail("--serial", name + ": stdin=true: brig feeds stdin to ttyS0 or hvc0 only");
            if (wanted) fail("--serial", "stdin=true on two consoles");
            wanted = uart ? StdinConsole::Serial : StdinConsole::VirtioConsole;
        }
        if (s.reads_stdin == false && s.num == 1) refused = uart ? StdinConsole::Serial : StdinConsole::VirtioConsole;
        if (s.kernel_console) o.cmdline += " console=" + name;
    }
    o.virtio_console.reset();
    o.more_consoles.clear();
    for (unsigned num = 1; !consoles.empty(); ++num) {
        const auto it = consoles.find(num);
        if (it == consoles.end())
            fail("--serial", "hvc" + std::to_string(consoles.begin()->first - 1) + " without hvc" +
                                 std::to_string(num - 1) + ": virtio consoles are numbered from hvc0 without gaps");
        if (num == 1)
            o.virtio_console = it->second;
        else
            o.more_consoles.push_back(it->second);
        consoles.erase(it);
    }
    if (wanted)
        o.stdin_choice = wanted;
    else if (refused && stdin_console(o) == *refused)
        o.stdin_choice = StdinConsole::None;  // the one that would have read it said stdin=false
}

// Any case; `warning` is `warn`.
spdlog::level::level_enum parse_log_level(std::string_view flag, std::string_view text) {
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},  {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
        {"off", spdlog::level::off},
    };
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& [name, level] : kLevels)
        if (lower == name) return level;
    fail(flag, "'" + std::string(text) + "' is not one of trace, debug, info, warn, error, off");
}

// PATH or PATH,ro. The file must exist: brig never creates disks.
DiskOption parse_disk(std::string_view flag, std::string_view text) {
    if (text.empty()) fail(flag, "empty path");
    const auto items = parse_key_values(flag, text, KeyValueForm::PathFirst);
    DiskOption disk;
    for (size_t i = 1; i < items.size(); ++i) {
        if (items[i].key != "ro" || items[i].value) fail(flag, "'" + std::string(text) + "': the only option is ,ro");
        disk.read_only = true;
    }
    disk.path = readable_file(flag, items[0].key);
    return disk;
}

// tap-name=NAME or tap-fd=N, and mac=XX:XX:XX:XX:XX:XX (crosvm's --net syntax).
NetOption parse_net(std::string_view flag, std::string_view text) {
    const std::string quoted = "'" + std::string(text) + "'";
    NetOption net;
    for (const auto& item : parse_key_values(flag, text)) {
        if (!item.value || item.value->empty())
            fail(flag, quoted + ": '" + item.key + "' needs a value (tap-name=NAME, tap-fd=N, mac=MAC)");
        const std::string& value = *item.value;
        if (item.key == "tap-name") {
            const bool bad_char = std::any_of(value.begin(), value.end(), [](unsigned char c) {
                return c == '/' || c == ':' || c <= ' ' || c >= 0x7f;
            });
            if (value.size() > kMaxInterfaceName || bad_char || value == "." || value == "..")
                fail(flag, "'" + value + "' is not an interface name (at most 15 characters, no '/', ':' or spaces)");
            net.tap_name = value;
        } else if (item.key == "tap-fd") {
            // 0, 1 and 2 are brig's own stdio, which it keeps.
            net.tap_fd = static_cast<int>(parse_number(flag, value, 3, INT32_MAX));
        } else if (item.key == "mac") {
            net.mac = ipc::MacAddress::parse(value);
            if (!net.mac) fail(flag, "'" + value + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
            if (net.mac->is_multicast())
                fail(flag, "'" + value + "' is a multicast MAC address; a network device needs a unicast one");
        } else {
            fail(flag, quoted + ": unknown key '" + item.key + "' (tap-name, tap-fd, mac)");
        }
    }
    if (net.tap_name && net.tap_fd) fail(flag, quoted + ": tap-name and tap-fd together; give one");
    if (!net.tap_name && !net.tap_fd) fail(flag, quoted + ": needs tap-name=NAME or tap-fd=N");
    return net;
}

// cid=N,socket=PATH (crosvm's cid=, Firecracker's uds_path as socket=).
VsockOption parse_vsock(std::string_view flag, std::string_view text) {
    const std::string quoted = "'" + std::string(text) + "'";
    VsockOption vsock;
    bool have_cid = false;
    for (const auto& item : parse_key_values(flag, text)) {
        if (!item.value || item.value->empty())
            fail(flag, quoted + ": '" + item.key + "' needs a value (cid=N, socket=PATH)");
        if (item.key == "cid") {
            // 0, 1 and 2 are the hypervisor, loopback and the host; -1 is VMADDR_CID_ANY.
            vsock.cid = parse_number(flag, *item.value, 3, 0xfffffffe);
            have_cid = true;
        } else if (item.key == "socket") {
            vsock.socket = *item.value;
        } else {
            fail(flag, quoted + ": unknown key '" + item.key + "' (cid, socket)");
        }
    }
    if (!have_cid) fail(flag, quoted + ": needs cid=N (3 or more)");
    if (vsock.socket.empty()) fail(flag, quoted + ": needs socket=PATH (the host's unix socket)");
    return vsock;
}

// --cpus N[,sockets=S,cores=C,threads=T]: sockets and threads default to 1, cores to
// what is left of N; the product must be N, and the APIC ids it makes must fit xAPIC.
void parse_cpus(std::string_view flag, std::string_view text, RunOptions& o) {
    const std::string quoted = "'" + std::string(text) + "'";
    const auto items = parse_key_values(flag, text, KeyValueForm::PathFirst);
    const unsigned count = static_cast<unsigned>(parse_number(flag, items.front().key, 1, kMaxCpus));
    std::optional<unsigned> sockets, cores, threads;
    for (size_t i = 1; i < items.size(); ++i) {
        const KeyValue& item = items[i];
        std::optional<unsigned>* field = item.key == "sockets"   ? &sockets
                                         : item.key == "cores"   ? &cores
                                         : item.key == "threads" ? &threads
                                                                 : nullptr;
        if (!field) fail(flag, quoted + ": unknown key '" + item.key + "' (sockets, cores, threads)");
        if (!item.value || item.value->empty()) fail(flag, quoted + ": '" + item.key + "' needs a number");
        *field = static_cast<unsigned>(parse_number(flag, *item.value, 1, kMaxCpus));
    }
    CpuTopology topology{sockets.value_or(1), 1, threads.value_or(1)};
    topology.cores = cores.value_or(std::max(1u, count / (topology.sockets * topology.threads)));
    if (topology.count() != count)
        fail(flag, quoted + ": sockets x cores x threads is " + std::to_string(topology.sockets) + " x " +
                       std::to_string(topology.cores) + " x " + std::to_string(topology.threads) + " = " +
                       std::to_string(topology.count()) + ", not " + std::to_string(count));
    if (topology.apic_id(count - 1) >= kMaxCpus)
        fail(flag, quoted + ": its APIC ids run to " + std::to_string(topology.apic_id(count - 1)) + ", past xAPIC's " +
                       std::to_string(kMaxCpus - 1));
    o.cpus = count;
    o.topology = topology;
}

// `text` cut at every `separator` ("" is one empty piece).
std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> pieces;
    for (size_t start = 0;;) {
        const size_t at = text.find(separator, start);
        pieces.push_back(text.substr(start, at == std::string_view::npos ? text.npos : at - start));
        if (at == std::string_view::npos) return pieces;
        start = at + 1;
    }
}

// "0,2-3": host CPU numbers, below CPU_SETSIZE, each once.
std::vector<unsigned> parse_cpu_set(std::string_view flag, std::string_view text) {
    constexpr uint64_t kMaxCpu = 1023;  // CPU_SETSIZE - 1
    std::vector<unsigned> cpus;
    for (const std::string_view item : split(text, ',')) {
        const size_t dash = item.find('-');
        const uint64_t first = parse_number(flag, item.substr(0, dash), 0, kMaxCpu);
        const uint64_t last =
            dash == std::string_view::npos ? first : parse_number(flag, item.substr(dash + 1), 0, kMaxCpu);
        if (last < first) fail(flag, "'" + std::string(item) + "': the range runs backwards");
        for (uint64_t c = first; c <= last; ++c) {
            if (std::find(cpus.begin(), cpus.end(), c) != cpus.end())
                fail(flag, "CPU " + std::to_string(c) + " is given twice");
            cpus.push_back(static_cast<unsigned>(c));
        }
    }
    return cpus;
}

// crosvm's --cpu-affinity: a set for every vCPU, or VCPU=SET pairs joined with ':'.
CpuAffinity parse_cpu_affinity(std::string_view flag, std::string_view text) {
    CpuAffinity affinity;
    if (text.find('=') == std::string_view::npos) {
        affinity.all = parse_cpu_set(flag, text);
        return affinity;
    }
    for (const std::string_view item : split(text, ':')) {
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos) fail(flag, "'" + std::string(item) + "' is not VCPU=CPUS");
        const auto vcpu = static_cast<unsigned>(parse_number(flag, item.substr(0, eq), 0, kMaxCpus - 1));
        for (const auto& [seen, set] : affinity.per_vcpu)
            if (seen == vcpu) fail(flag, "vCPU " + std::to_string(vcpu) + " is given twice");
        affinity.per_vcpu.emplace_back(vcpu, parse_cpu_set(flag, item.substr(eq + 1)));
    }
    return affinity;
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

std::filesystem::path some_path(std::string_view flag, std::string_view text) {
    if (text.empty()) fail(flag, "empty path");
    return std::filesystem::path(text);
}

// A switch's value: true or false (a --config file's `rng = false`; CLI11 turns
// --no-rng into false). On the command line a switch takes no value (see spell_out).
bool switch_value(std::string_view flag, std::string_view value) {
    if (value == "true") return true;
    if (value == "false") return false;
    fail(flag, "'" + std::string(value) + "' is not true or false");
}

// The flags of `brig run`: one row each, with its metavariable, its help and its handler.
// `brig run --help`, the parser, --config's keys and find_failure_file all come from it.
enum class Takes { Value, Values, Nothing };  // Values: repeatable; Nothing: a switch
struct Flag {
    const char* names;    // CLI11's spelling: "--mem"; "--rng,!--no-rng" is a switch and its negation
    const char* metavar;  // "" for a switch
    Takes takes;
    std::string help;
    void (*handle)(RunOptions& options, std::string_view flag, std::string_view value);
};

const std::vector<Flag>& run_flags() {
    using O = RunOptions;
    using F = std::string_view;
    static const std::vector<Flag> flags = {
        {"--kernel", "PATH", Takes::Value, "bzImage, or an ELF kernel with a PVH entry note (vmlinux)",
         [](O& o, F f, F v) { o.kernel = readable_file(f, v); }},
        {"--initrd", "PATH", Takes::Value, "initial ramdisk", [](O& o, F f, F v) { o.initrd = readable_file(f, v); }},
        {"--cmdline", "STR", Takes::Value, "kernel command line (default: \"console=ttyS0 reboot=k panic=-1\")",
         [](O& o, F, F v) { o.cmdline = std::string(v); }},
        {"--mem", "SIZE", Takes::Value,
         "guest memory: MiB, or with a suffix K, M, G, T (1G, 512M); a multiple of 2 MiB\n"
         "(default 256, minimum 16)",
         [](O& o, F f, F v) { o.mem_mib = parse_mem_mib(f, v); }},
        {"--hugepages", "", Takes::Nothing,
         "back guest RAM with 2 MiB huge pages (all reserved at start; too few free is\n"
         "exit 35); the devices map it as they map normal pages",
         [](O& o, F f, F v) { o.hugepages = switch_value(f, v); }},
        {"--cpus", "N[,sockets=S,cores=C,threads=T]", Takes::Value,
         "number of vCPUs, 1..254 (default 1), and their shape: S x C x T must be N\n"
         "(default: one socket of N single-threaded cores), seen in CPUID and the MADT",
         [](O& o, F f, F v) { parse_cpus(f, v, o); }},
        {"--serial", "OUT|type=T[,path=P,hardware=H,num=N,stdin=B,console=B]", Takes::Values,
         "COM1 output: stdout (default; reads stdin too), file=PATH, sink. Or crosvm's\n"
         "form, repeatable: type=stdout|file|sink|unix|syslog (unix: connect to a\n"
         "listening socket at path; syslog: its lines, tagged), hardware=serial (num=1..4: COM1..COM4, ttyS0..3) or\n"
         "virtio-console (num=1..: hvc0..), stdin=true (ttyS0 or hvc0 reads stdin),\n"
         "console=true (console=ttySn|hvcn on the kernel command line)",
         [](O& o, F f, F v) { o.serial_flags.push_back(parse_serial(f, v)); }},
        {"--disk", "PATH[,ro]", Takes::Values,
         "a raw disk image (a regular file, whole 512-byte sectors) as virtio-blk;\n"
         "repeatable, up to " +
             std::to_string(kMaxDisks) +
             "; ,ro: read-only. A writable image is locked for\n"
             "this VM alone, a read-only one may be shared with other readers;\n"
             "qcow2, VMDK, VHD(X), VDI, QED and LUKS images are refused",
         [](O& o, F f, F v) {
             o.disks.push_back(parse_disk(f, v));
             if (o.disks.size() > kMaxDisks) fail(f, "at most " + std::to_string(kMaxDisks) + " disks");
             if (o.disks.size() + o.nets.size() > kMaxDisks)
                 fail(f, "at most " + std::to_string(kMaxDisks) + " disks and network devices together");
         }},
        {"--net", "tap-name=NAME|tap-fd=N[,mac=MAC]", Takes::Values,
         "a virtio-net device on an existing TAP, which brig attaches to by name\n"
         "(IFF_VNET_HDR) or takes as an fd the caller opened; repeatable. brig creates\n"
         "no interface and sets no address. Without mac=, a locally administered\n"
         "unicast MAC derived from the TAP's name (stable across runs)",
         [](O& o, F f, F v) {
             NetOption net = parse_net(f, v);
             for (const auto& other : o.nets) {
                 if (net.mac && other.mac == net.mac) fail(f, "MAC " + net.mac->to_string() + " is given twice");
                 if (net.tap_fd && other.tap_fd == net.tap_fd)
                     fail(f, "tap-fd=" + std::to_string(*net.tap_fd) + " is given twice");
             }
             o.nets.push_back(std::move(net));
             if (o.disks.size() + o.nets.size() > kMaxDisks)
                 fail(f, "at most " + std::to_string(kMaxDisks) + " disks and network devices together");
         }},
        {"--cpu-affinity", "CPUS|VCPU=CPUS[:...]", Takes::Value,
         "pin the vCPU threads to host CPUs (crosvm's syntax): \"0,1-3\" pins every vCPU\n"
         "to that set, \"0=0:1=1,2\" vCPU by vCPU",
         [](O& o, F f, F v) { o.cpu_affinity = parse_cpu_affinity(f, v); }},
        {"--rng,!--no-rng", "", Takes::Nothing, "virtio-rng entropy device (default: on)",
         [](O& o, F f, F v) { o.rng = switch_value(f, v); }},
        {"--console", "OUT", Takes::Value, "a virtio console (hvc0): stdout, file=PATH, sink (default: none)",
         [](O& o, F f, F v) { o.virtio_console = parse_console(f, v); }},
        {"--log-level", "LEVEL", Takes::Value,
         "trace, debug, info (default), warn (or warning), error, off, in any case;\n"
         "logs go to stderr",
         [](O& o, F f, F v) { o.log_level = parse_log_level(f, v); }},
        {"--log-file", "PATH", Takes::Value, "write the log to PATH (appended; never through a link) instead of stderr",
         [](O& o, F f, F v) { o.log_file = some_path(f, v); }},
        {"--log-format", "FORMAT", Takes::Value,
         "text (default) or json: one object a line with time, level, component, pid,\n"
         "message, and \"device_text\":true on the words a device wrote",
         [](O& o, F f, F v) {
             if (v == "text")
                 o.log_format = logging::Format::Text;
             else if (v == "json")
                 o.log_format = logging::Format::Json;
             else
                 fail(f, "'" + std::string(v) + "' is not text or json");
         }},
        {"--syslog-tag", "TAG", Takes::Value,
         "also log to syslog (/dev/log) as TAG[pid], as crosvm does: 1..32 letters,\n"
         "digits, '-', '_' or '.'",
         [](O& o, F f, F v) {
             if (v.empty() || v.size() > kMaxSyslogTag)
                 fail(f, "a tag is 1.." + std::to_string(kMaxSyslogTag) + " characters");
             for (char c : v)
                 if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
                     fail(f, "'" + std::string(v) + "': only letters, digits, '-', '_' and '.'");
             o.syslog_tag = std::string(v);
         }},
        {"--jail-ids", "FIRST-LAST", Takes::Value,
         "each device runs as a uid/gid of its own from this range, held with a lock\n"
         "in /run/brig/ids while the VM runs (default 400000-499999; reserve it for brig)",
         [](O& o, F f, F v) { o.jail_ids = parse_jail_ids(f, v); }},
        {"--jail-user", "UID[:GID]", Takes::Value,
         "instead: every device of this VM runs as these ids (they share its task limit)",
         [](O& o, F f, F v) { o.jail_user = parse_jail_user(f, v); }},
        {"--cgroup-parent", "PATH", Takes::Value,
         "each device in a cgroup of its own under PATH (memory and task limits; cgroup v2,\n"
         "or the v1 memory and pids hierarchies). PATH starting with / is from the\n"
         "hierarchy's root, else from brig's own cgroup",
         [](O& o, F f, F v) {
             if (v.empty()) fail(f, "empty path");
             if (v.find("..") != std::string_view::npos) fail(f, "'" + std::string(v) + "': no '..'");
             o.cgroup_parent = std::string(v);
         }},
        {"--failure-file", "PATH", Takes::Value,
         "write why brig stopped, one machine-readable line (SHUTDOWN, REBOOT, ...)",
         [](O& o, F f, F v) { o.failure_file = some_path(f, v); }},
        {"--boot-timeout", "SECONDS", Takes::Value,
         "stop with HANGUP (exit 36) if the guest prints nothing on the console in time\n"
         "(with --ready-port: if it does not connect to that port in time)",
         [](O& o, F f, F v) {
             o.boot_timeout_seconds = static_cast<unsigned>(parse_number(f, v, 1, kMaxBootTimeoutSeconds));
         }},
        {"--vsock", "cid=N,socket=PATH", Takes::Value,
         "a virtio-vsock device for guest CID N (3 or more), its host side on unix\n"
         "sockets (Firecracker's hybrid vsock): a host program connects to PATH and\n"
         "writes \"CONNECT <port>\\n\" (answered \"OK <host port>\\n\"); the guest's\n"
         "connections to CID 2, port P go to PATH_P. A stale socket at PATH is replaced",
         [](O& o, F f, F v) { o.vsock = parse_vsock(f, v); }},
        {"--ready-port", "P", Takes::Value,
         "with --vsock: the guest connecting to host port P means it is ready (logged\n"
         "\"guest ready\"); --boot-timeout then waits for that, not for console output",
         [](O& o, F f, F v) { o.ready_port = static_cast<uint32_t>(parse_number(f, v, 1, 0xffffffff)); }},
        {"--socket", "PATH", Takes::Value,
         "a control socket (mode 0600) for brig stop|suspend|resume|status|events PATH;\n"
         "a live brig's socket there is refused, a stale one replaced",
         [](O& o, F f, F v) { o.control_socket = some_path(f, v); }},
        {"--on-reboot", "exit|restart", Takes::Value,
         "what a guest reset does: exit (default, exit 32) or restart: reboot in place,\n"
         "guest RAM kept, vCPUs and devices reset, kernel and ACPI tables loaded again",
         [](O& o, F f, F v) {
             if (v == "exit")
                 o.on_reboot = RunOptions::OnReboot::Exit;
             else if (v == "restart")
                 o.on_reboot = RunOptions::OnReboot::Restart;
             else
                 fail(f, "'" + std::string(v) + "' is not exit or restart");
         }},
        {"--max-reboots", "N", Takes::Value,
         "with --on-reboot restart: the guest's reset after N reboots in place exits 32\n"
         "(default " +
             std::to_string(kDefaultMaxReboots) + ")",
         [](O& o, F f, F v) { o.max_reboots = static_cast<unsigned>(parse_number(f, v, 0, kMaxReboots)); }},
        {"--suspended", "", Takes::Nothing, "build the VM and start its devices, but run no vCPU until `brig resume`",
         [](O& o, F f, F v) { o.suspended = switch_value(f, v); }},
        {"--policy-dir", "DIR", Takes::Value, "seccomp policies to use instead of the shipped ones",
         [](O& o, F f, F v) { o.policy_dir = some_path(f, v); }},
        {"--seccomp", "MODE", Takes::Value,
         "kill (default): a violation kills the device; log: report every violation,\n"
         "allow it; learn: record every syscall, write proposed policies (--policy-out)",
         [](O& o, F f, F v) {
             if (v == "kill")
                 o.seccomp_mode = RunOptions::SeccompMode::Kill;
             else if (v == "log")
                 o.seccomp_mode = RunOptions::SeccompMode::Log;
             else if (v == "learn")
                 o.seccomp_mode = RunOptions::SeccompMode::Learn;
             else
                 fail(f, "'" + std::string(v) + "' is not one of kill, log, learn");
         }},
        {"--policy-out", "DIR", Takes::Value, "with --seccomp=learn: where the proposed minimal policies go",
         [](O& o, F f, F v) { o.policy_out = some_path(f, v); }},
        {"--disable-sandbox", "", Takes::Nothing,
         "run devices inside the brig process (debugging only: no jails, no seccomp)",
         [](O& o, F f, F v) { o.disable_sandbox = switch_value(f, v); }},
    };
    return flags;
}

constexpr std::string_view kRunFooter =
    "--config FILE: a TOML file whose keys are these flags' long names, with the same values:\n"
    "kernel = \"PATH\", mem = \"1G\", disk = [\"a.img\", \"b.img,ro\"] (repeatable: an array),\n"
    "rng = false (switches: true or false). A flag on the command line wins over its key.\n"
    "\n"
    "The console on stdout reads stdin. On a terminal brig puts it in raw mode while it is in the\n"
    "foreground (a background `brig run ... &` leaves it alone until `fg`): every key, Ctrl-C and\n"
    "Ctrl-Z included, goes to the guest, except brig's escapes:\n"
    "  Ctrl-A x                stop the VM (like SIGTERM: exit 0, record KILLED console=ctrl-a-x)\n"
    "  Ctrl-A Ctrl-A           send one Ctrl-A to the guest\n"
    "\n"
    "Files brig writes (--serial/--console file=, --failure-file, --policy-out) are never opened\n"
    "through a symbolic link: a link there is refused (exit 35).\n"
    "\n"
    "brig's last line on stderr says why it stopped, `brig: RECORD: detail` (all --log-levels but off);\n"
    "--failure-file gets `RECORD fields`. The records and exit codes are listed in the README.";

// brig's help layout: a fixed usage line, flags as "--name METAVAR" ("--rng, --no-rng"),
// no CLI11 decorations (REQUIRED, defaults, types).
class HelpFormatter : public CLI::Formatter {
public:
    explicit HelpFormatter(std::string usage) : usage_(std::move(usage)) { column_width(kHelpColumn); }
    std::string make_usage(const CLI::App*, std::string) const override { return "Usage: " + usage_ + "\n"; }
    std::string make_option_name(const CLI::Option* opt, bool) const override {
        std::string name;
        for (const auto& s : opt->get_snames()) name += (name.empty() ? "-" : ", -") + s;
        for (const auto& l : opt->get_lnames()) name += (name.empty() ? "--" : ", --") + l;
        return name;
    }
    std::string make_option_opts(const CLI::Option* opt) const override {
        return opt->get_type_name().empty() ? "" : " " + opt->get_type_name();
    }

private:
    std::string usage_;
};

// The CLI11 app of `brig run`, built from the table. Its options collect strings; the
// table's handlers turn them into RunOptions once everything is read.
std::unique_ptr<CLI::App> make_run_app() {
    auto app = std::make_unique<CLI::App>("", "brig run");
    app->formatter(std::make_shared<HelpFormatter>("brig run --kernel PATH [options]"));
    app->set_help_flag("-h,--help", "this text")->configurable(false);
    app->allow_extras();  // unknown words are ours to report, with a suggestion
    app->allow_config_extras(CLI::config_extras_mode::error);
    app->footer(std::string(kRunFooter));
    for (const auto& flag : run_flags()) {
        CLI::Option* option = nullptr;
        if (flag.takes == Takes::Nothing) {
            option = app->add_flag(flag.names);
            option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
        } else {
            // Exactly one word each time, even one that starts with "--" (--cmdline "--x").
            option = app->add_option(flag.names)->expected(1)->allow_extra_args(false);
            option->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        }
        option->description(flag.help)->type_name(flag.metavar);
    }
    app->set_config("--config", "", "read flags from a TOML file (see below); flags given here win")
        ->type_name("FILE")
        ->configurable(false)
        ->check(CLI::Validator(config_file_problem, ""));
    return app;
}

// The primary long name of a row: "--rng" for "--rng,!--no-rng".
std::string primary_name(const Flag& flag) {
    const std::string names = flag.names;
    return names.substr(0, names.find(','));
}

// Every long flag of `brig run`, for suggestions.
std::vector<std::string> long_flags(const CLI::App& app) {
    std::vector<std::string> names;
    for (const CLI::Option* option : app.get_options())
        for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    return names;
}

// " (did you mean --mem?)" for a close candidate, else `otherwise`.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                         std::string otherwise = "") {
    const auto best = closest_word(word, candidates);
    return best ? " (did you mean " + *best + "?)" : otherwise;
}

// A `brig run` word that names a flag taking a value (not a switch, not unknown).
bool takes_value(const CLI::App& app, std::string_view word) {
    const CLI::Option* option = app.get_option_no_throw(std::string(word));
    return option != nullptr && option->get_expected_min() > 0;
}

// The command line as CLI11 should read it, in brig's grammar: `--flag=` is an empty value
// (CLI11 would take the next word), and a switch takes no value (`--no-rng=yes` is an error).
std::vector<std::string> spell_out(const CLI::App& app, const std::vector<std::string_view>& args) {
    std::vector<std::string> words;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string_view word = args[i];
        const auto eq = word.find('=');
        const std::string_view name = word.substr(0, eq);
        if (!word.starts_with("--") || word == "--") {
            words.emplace_back(word);
        } else if (eq == std::string_view::npos) {
            words.emplace_back(word);
            if (takes_value(app, word) && i + 1 < args.size())
                words.emplace_back(args[++i]);  // its value, whatever it is
        } else if (const CLI::Option* option = app.get_option_no_throw(std::string(name)); option == nullptr) {
            words.emplace_back(word);  // unknown: reported later
        } else if (option->get_expected_min() == 0) {
            fail(name, "takes no value");
        } else {
            words.emplace_back(name);
            words.emplace_back(word.substr(eq + 1));
        }
    }
    return words;
}

// CLI11's errors as brig's: one line naming the flag.
[[noreturn]] void rethrow(const CLI::Error& error, const CLI::App& app) {
    const std::string what = error.what();
    const std::string flag = what.substr(0, what.find(':'));
    const CLI::Option* config = app.get_config_ptr();
    const std::string config_path = config != nullptr && config->count() > 0 ? config->results().front() : "";
    if (dynamic_cast<const CLI::CallForHelp*>(&error)) fail("--help", "give it alone, as `brig run --help`");
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&error)) {
        if (what.find("missing") != std::string::npos) fail(flag, "missing value");
        if (what.find("At Most") != std::string::npos) fail(flag, "given more than once");
    }
    if (dynamic_cast<const CLI::FileError*>(&error)) {
        readable_file("--config", config_path);  // names the reason, if it is one of ours
        fail("--config", "cannot read " + config_path);
    }
    if (dynamic_cast<const CLI::ConfigError*>(&error)) {
        constexpr std::string_view kUnknown = "INI was not able to parse ";
        if (what.starts_with(kUnknown)) {
            const std::string key = what.substr(kUnknown.size());
            if (key.ends_with(".++"))  // CLI11 opens a TOML [section] with a key "SECTION.++"
                fail("--config", config_path + ": [" + key.substr(0, key.size() - 3) + "]: there are no sections");
            std::vector<std::string> keys;
            for (const auto& name : long_flags(app))
                if (name != "--help" && name != "--config") keys.push_back(name.substr(2));
            fail("--config", config_path + ": unknown key '" + key + "'" + did_you_mean(key, keys));
        }
        constexpr std::string_view kNotHere = ": This option is not allowed in a configuration file";
        if (what.ends_with(kNotHere))
            fail("--config", config_path + ": '" + what.substr(0, what.size() - kNotHere.size()) + "' is not a key");
        fail("--config", config_path + ": " + what);
    }
    std::string line = what;
    std::replace(line.begin(), line.end(), '\n', ' ');
    throw InvalidArgument(line);
}

// What CLI11 lets pass in a --config file: a directory (read as empty), a key given twice
// (the first wins). Called after CLI11 read it.
void check_config_file(const std::string& path) {
    readable_file("--config", path);
    std::vector<std::string> keys;
    for (const auto& item : CLI::ConfigTOML().from_file(path)) {
        const std::string key = item.fullname();
        if (std::find(keys.begin(), keys.end(), key) != keys.end())
            fail("--config", path + ": '" + key + "' given twice");
        keys.push_back(key);
    }
}

RunOptions parse_run(const std::vector<std::string_view>& args) {
    auto app = make_run_app();
    std::vector<std::string> words = spell_out(*app, args);
    std::reverse(words.begin(), words.end());  // CLI11 takes them last first
    try {
        app->parse(words);
    } catch (const CLI::Error& e) {
        rethrow(e, *app);
    }
    for (const auto& word : app->remaining()) {
        if (word.starts_with("--") && word.size() > 2) {
            const std::string flag = word.substr(0, word.find('='));
            fail(flag, "unknown flag" + did_you_mean(flag, long_flags(*app), " (see `brig run --help`)"));
        }
        fail(word, "unexpected argument (flags start with --)");
    }
    if (app->count("--config") > 0) check_config_file(app->get_config_ptr()->results().front());

    RunOptions opts;
    for (const auto& flag : run_flags()) {
        const std::string name = primary_name(flag);
        const CLI::Option* option = app->get_option(name);
        if (flag.takes == Takes::Value && option->results().size() > 1) fail(name, "given more than once");
        for (const auto& value : option->results()) flag.handle(opts, name, value);
    }
    if (app->count("--kernel") == 0) fail("--kernel", "required (see `brig run --help`)");
    place_serial_flags(opts);
    if (opts.seccomp_mode == RunOptions::SeccompMode::Learn && !opts.policy_out)
        fail("--seccomp", "learn needs --policy-out DIR for the proposed policies");
    if (opts.jail_user && app->count("--jail-ids") > 0) fail("--jail-ids", "give either --jail-user or --jail-ids");
    if (opts.ready_port && !opts.vsock) fail("--ready-port", "needs --vsock (the port is a vsock port)");
    if (opts.cpu_affinity)
        for (const auto& [vcpu, set] : opts.cpu_affinity->per_vcpu)
            if (vcpu >= opts.cpus)
                fail("--cpu-affinity",
                     "vCPU " + std::to_string(vcpu) + " does not exist (--cpus " + std::to_string(opts.cpus) + ")");
    if (opts.max_reboots && opts.on_reboot != RunOptions::OnReboot::Restart)
        fail("--max-reboots", "needs --on-reboot restart");
    if (opts.suspended && !opts.control_socket) fail("--suspended", "needs --socket (brig resume SOCKET runs it)");
    {
        const size_t virtio = opts.disks.size() + opts.nets.size() + (opts.rng ? 1 : 0) +
                              (opts.virtio_console ? 1 : 0) + opts.more_consoles.size() + (opts.vsock ? 1 : 0);
        if (virtio > layout::kVirtioMmioWindows)
            fail(opts.vsock ? "--vsock" : "--disk", std::to_string(virtio) + " virtio devices; the board has " +
                                                        std::to_string(layout::kVirtioMmioWindows) + " windows");
    }
    if (opts.cgroup_parent && opts.disable_sandbox)
        fail("--cgroup-parent", "places device processes; --disable-sandbox has none");
    if (opts.policy_out && opts.seccomp_mode != RunOptions::SeccompMode::Learn)
        fail("--policy-out", "only with --seccomp=learn");
    return opts;
}

// The commands of `brig`: the first word. `brig --help` lists them.
constexpr std::pair<std::string_view, std::string_view> kCommands[] = {
    {"run", "boot a guest (see `brig run --help`)"},
    {"policy", "inspect and audit the sandboxes (see `brig policy help`)"},
    {"stop", "SOCKET: stop the VM behind a control socket (brig run --socket): exit 0, SHUTDOWN"},
    {"suspend", "SOCKET: pause every vCPU and device"},
    {"resume", "SOCKET: run a suspended VM again"},
    {"status", "SOCKET: the VM's state as one JSON object"},
    {"events", "SOCKET: a JSON line per event until the VM ends"},
    {"powerbtn", "SOCKET: press the guest's ACPI power button"},
};
constexpr std::string_view kControlVerbs[] = {"stop", "suspend", "resume", "status", "events", "powerbtn"};

}  // namespace

std::optional<std::string_view> find_failure_file(const std::vector<std::string_view>& args) {
    if (args.empty() || args[0] != "run") return std::nullopt;
    const auto app = make_run_app();
    constexpr std::string_view kFlag = "--failure-file";
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string_view word = args[i];
        if (word == kFlag)
            return i + 1 < args.size() && !args[i + 1].empty() ? std::optional(args[i + 1]) : std::nullopt;
        if (word.starts_with(kFlag) && word[kFlag.size()] == '=') {
            const auto value = word.substr(kFlag.size() + 1);
            return value.empty() ? std::nullopt : std::optional(value);
        }
        if (takes_value(*app, word)) ++i;  // its value
    }
    return std::nullopt;
}

const std::vector<unsigned>& CpuAffinity::for_vcpu(unsigned index) const {
    for (const auto& [vcpu, set] : per_vcpu)
        if (vcpu == index) return set;
    return all;
}

StdinConsole stdin_console(const RunOptions& options) {
    if (options.stdin_choice) return *options.stdin_choice;
    if (options.serial.kind == ConsoleOutput::Kind::Stdout) return StdinConsole::Serial;
    if (options.virtio_console && options.virtio_console->kind == ConsoleOutput::Kind::Stdout)
        return StdinConsole::VirtioConsole;
    return StdinConsole::None;
}

RunOptions::JailUser parse_jail_user(std::string_view flag, std::string_view text) {
    try {
        const auto ids = sandbox::parse_jail_ids(text);
        return RunOptions::JailUser{ids.uid, ids.gid};
    } catch (const std::invalid_argument& e) {
        fail(flag, e.what());
    }
}

std::string main_help() {
    CLI::App app("brig " BRIG_VERSION " - a privilege-separated virtual machine monitor for Linux/KVM", "brig");
    app.formatter(std::make_shared<HelpFormatter>("brig COMMAND ..."));
    app.set_help_flag("-h,--help", "this text");
    app.add_flag("-V,--version")->description("print the version");
    for (const auto& [name, help] : kCommands)
        app.add_subcommand(std::string(name), std::string(help))->group("Commands");
    app.footer(
        "Exit status: 0 guest powered off, 32 guest reset, 33 a device crashed,\n"
        "34 guest panic, 35 invalid arguments, 36 boot timeout (hang), 1 internal error.");
    return app.help();
}

std::string run_help() { return make_run_app()->help(); }

namespace {

// An error quotes what was typed, and the line goes to the operator's terminal and
// logs: control characters become \xNN, so it stays one line and carries no escape
// sequence. Other bytes (UTF-8 paths) are kept.
std::string one_line(std::string_view text) {
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c != 0x7f) {
            out.push_back(ch);
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
        }
    }
    return out;
}

Command parse_any_command(const std::vector<std::string_view>& args);

}  // namespace

Command parse_command_line(const std::vector<std::string_view>& args) {
    try {
        return parse_any_command(args);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(one_line(e.what()));
    }
}

namespace {

Command parse_any_command(const std::vector<std::string_view>& args) {
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
    if (std::find(std::begin(kControlVerbs), std::end(kControlVerbs), command) != std::end(kControlVerbs)) {
        if (args.size() != 2 || args[1].empty() || args[1].starts_with("-"))
            fail(command, "needs the control socket: brig " + std::string(command) + " SOCKET");
        return ControlCommand{std::string(command), std::filesystem::path(args[1])};
    }
    if (command == "run") {
        if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) return HelpRequest{run_help()};
        return parse_run(std::vector<std::string_view>(args.begin() + 1, args.end()));
    }
    if (command.starts_with("-"))
        fail(command, "unknown flag" + did_you_mean(command, {"--help", "--version"}, " (see `brig --help`)"));
    std::vector<std::string> commands;
    for (const auto& [name, help] : kCommands) commands.emplace_back(name);
    throw InvalidArgument("unknown command '" + std::string(command) + "'" +
                          did_you_mean(command, commands, " (see `brig --help`)"));
}

}  // namespace

}  // namespace brig
