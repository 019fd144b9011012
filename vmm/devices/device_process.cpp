#include "devices/device_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <string_view>

#include "error.h"
#include "minijail/spawn.h"
#include "minijail/policy.h"

namespace brig {
namespace {

constexpr size_t kMaxReportBytes = 512;
constexpr unsigned kMaxSyscallArgs = 6;

UniqueFd filter_memfd(const std::vector<sock_filter>& filter) {
    UniqueFd fd(memfd_create("brig-device-filter", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) throw_errno("memfd_create(seccomp filter)");
    const auto* bytes = reinterpret_cast<const char*>(filter.data());
    const size_t size = filter.size() * sizeof(sock_filter);
    if (::write(fd.get(), bytes, size) != static_cast<ssize_t>(size)) throw_errno("write(seccomp filter)");
    if (lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("lseek(seccomp filter)");
    fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    return fd;
}

// The device's report is untrusted text, "seccomp nr=N args=0x..,0x..", parsed
// strictly into numbers so a device cannot smuggle text into our logs.
std::optional<std::string> describe_violation(std::string_view report, std::string& fields) {
    constexpr std::string_view kPrefix = "seccomp nr=";
    constexpr std::string_view kArgs = " args=";
    if (!report.starts_with(kPrefix)) return std::nullopt;
    report.remove_prefix(kPrefix.size());
    int nr = -1;
    auto [ptr, ec] = std::from_chars(report.data(), report.data() + report.size(), nr);
    if (ec != std::errc() || nr < 0 || nr > 4096) return std::nullopt;
    report.remove_prefix(static_cast<size_t>(ptr - report.data()));
    std::vector<std::string> args;
    if (report.starts_with(kArgs)) {
        report.remove_prefix(kArgs.size());
        while (args.size() < kMaxSyscallArgs && report.starts_with("0x")) {
            report.remove_prefix(2);
            uint64_t value = 0;
            auto [p, e] = std::from_chars(report.data(), report.data() + report.size(), value, 16);
            if (e != std::errc()) break;
            args.push_back(fmt::format("{:#x}", value));
            report.remove_prefix(static_cast<size_t>(p - report.data()));
            if (!report.starts_with(",")) break;
            report.remove_prefix(1);
        }
    }
    const std::string name = minijail::syscall_name(nr);
    fields = "signal=SIGSYS syscall=" + name;
    return fmt::format("blocked syscall {}({})", name, fmt::join(args, ", "));
}

}  // namespace

std::unique_ptr<DeviceProcess> DeviceProcess::spawn(const DeviceProcessConfig& config, ipc::IpcThread& ipc,
                                                    ipc::IpcThread::ErrorReportHandler on_report) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair(" + config.name + ")");
    UniqueFd vmm_end(sv[0]), device_end(sv[1]);
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) throw_errno("pipe(" + config.name + " report)");
    UniqueFd report_read(report[0]), report_write(report[1]);
    UniqueFd filter = filter_memfd(config.filter);

    minijail::SpawnSpec spec;
    spec.executable = config.executable.string();
    spec.argv = {"brig-device", config.kind, config.name, std::to_string(config.jail_uid),
                 std::to_string(config.jail_gid), std::string(spdlog::level::to_string_view(spdlog::get_level()).data())};
    spec.keep_fds = {device_end.get(), filter.get(), report_write.get()};  // become 3, 4, 5
    spec.stderr_fd = STDERR_FILENO;

    const minijail::SpawnedProcess spawned = minijail::spawn_in_new_pid_namespace(spec);
    auto process = std::unique_ptr<DeviceProcess>(new DeviceProcess());
    process->name_ = config.name;
    process->pid_ = spawned.pid;
    process->pidfd_.reset(spawned.pidfd);
    process->report_read_ = std::move(report_read);
    fcntl(process->report_read_.get(), F_SETFL, O_NONBLOCK);
    process->control_ = ipc.connect(config.name, std::move(vmm_end), std::move(on_report));
    spdlog::debug("[{}] device process pid {} started", config.name, spawned.pid);
    return process;
}

DeviceProcess::~DeviceProcess() {
    if (pid_ > 0 && !reaped()) {
        syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
        reap();
    }
}

std::string DeviceProcess::read_violation_report() {
    char buf[kMaxReportBytes];
    const ssize_t n = ::read(report_read_.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

const std::string& DeviceProcess::reap() {
    if (exit_description_) return *exit_description_;
    siginfo_t info{};
    while (waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) != 0) {
        if (errno != EINTR) {
            exit_description_ = fmt::format("could not be reaped: {}", strerror(errno));
            return *exit_description_;
        }
    }
    if (info.si_code == CLD_EXITED) {
        exit_description_ = fmt::format("exited with status {}", info.si_status);
        failure_fields_ = fmt::format("exit={}", info.si_status);
    } else {
        const char* sig = sigabbrev_np(info.si_status);
        const std::string signame = std::string("SIG") + (sig ? sig : "?");
        exit_description_ = "killed by " + signame;
        failure_fields_ = "signal=" + signame;
        if (info.si_status == SIGSYS) {
            std::string fields;
            if (auto violation = describe_violation(read_violation_report(), fields)) {
                *exit_description_ += ": " + *violation;
                failure_fields_ = fields;
            }
        }
    }
    return *exit_description_;
}

void DeviceProcess::wait_or_kill(std::chrono::milliseconds timeout) {
    if (reaped()) return;
    pollfd pfd{pidfd_.get(), POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) {
        spdlog::warn("[{}] pid {} did not exit within {} ms of shutdown; killing it", name_, pid_, timeout.count());
        syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    }
    reap();
}

}  // namespace brig
