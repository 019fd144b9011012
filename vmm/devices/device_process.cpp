#include "vmm/devices/device_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <mutex>
#include <string_view>

#include "base/error.h"
#include "vmm/logging.h"
#include "ipc/device_contract.h"
#include "vmm/error.h"
#include "minijail-wrapper/minijail/spawn.h"
#include "minijail-wrapper/minijail/policy.h"
#include "ipc/sandbox/profiles.h"

namespace brig {
namespace {

constexpr std::chrono::milliseconds kListenerTimeout(5000);    // asleep (stall_watch.h)
constexpr std::chrono::milliseconds kListenerBackstop(60000);  // whatever it does
constexpr int kDeviceKillWaitMs = 1000;                        // for a device brig has just killed

// A listener from a device is checked to be one before brig serves it.
bool is_seccomp_listener(int fd) {
    char target[64] = {};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    return n > 0 && std::string_view(target, static_cast<size_t>(n)) == "anon_inode:seccomp notify";
}

base::UniqueFd filter_memfd(const std::vector<sock_filter>& filter) {
    base::UniqueFd fd(memfd_create("brig-device-filter", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) base::throw_errno("memfd_create(seccomp filter)");
    const auto* bytes = reinterpret_cast<const char*>(filter.data());
    const size_t size = filter.size() * sizeof(sock_filter);
    if (::write(fd.get(), bytes, size) != static_cast<ssize_t>(size)) base::throw_errno("write(seccomp filter)");
    if (lseek(fd.get(), 0, SEEK_SET) != 0) base::throw_errno("lseek(seccomp filter)");
    fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    return fd;
}

// The kernel's account of a refused syscall, never the device's: from its seccomp
// user notification. "blocked syscall openat(0xffffff9c, 0x55d0c2a1b004, ...)".
std::string describe_syscall(const seccomp_notif& req, std::string& name) {
    name = req.data.arch == AUDIT_ARCH_X86_64 ? minijail::syscall_name(static_cast<int>(req.data.nr))
                                              : fmt::format("nr{}-arch{:#x}", req.data.nr, req.data.arch);
    std::vector<std::string> args;
    for (const uint64_t arg : req.data.args) args.push_back(fmt::format("{:#x}", arg));
    return fmt::format("blocked syscall {}({})", name, fmt::join(args, ", "));
}

void kill_by_pidfd(int pidfd) { syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0); }

}  // namespace

// Set on the IPC thread, read by whoever reaps; holds its own pidfd so that it can
// kill the device whichever of the two goes first.
struct DeviceProcess::Verdict {
    std::mutex lock;
    std::optional<ipc::ControlFault> fault;
    base::UniqueFd pidfd;

    void kill_for(const ipc::ControlFault& why) {
        std::lock_guard guard(lock);
        if (!fault) fault = why;
        kill_by_pidfd(pidfd.get());
    }
    std::optional<ipc::ControlFault> get() {
        std::lock_guard guard(lock);
        return fault;
    }
};

std::unique_ptr<DeviceProcess> DeviceProcess::spawn(const DeviceProcessConfig& config, ipc::IpcThread& ipc,
                                                    ipc::IpcThread::ErrorReportHandler on_report) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        base::throw_errno("socketpair(" + config.name + ")");
    base::UniqueFd vmm_end(sv[0]), device_end(sv[1]);
    // The report channel is a socket, not a pipe, so that it can carry the device's
    // seccomp listener (SCM_RIGHTS).
    int report[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0)
        base::throw_errno("socketpair(" + config.name + " report)");
    base::UniqueFd report_read(report[0]), report_write(report[1]);
    base::UniqueFd filter = filter_memfd(config.filter);

    minijail::SpawnSpec spec;
    spec.executable = config.executable.string();
    spec.argv = ipc::device_contract::to_argv({config.kind, config.name, config.jail_uid, config.jail_gid,
                                               std::string(spdlog::level::to_string_view(spdlog::get_level()).data())});
    // They become device_contract::kControlFd, kFilterFd and kReportFd, in this order.
    static_assert(ipc::device_contract::kFilterFd == ipc::device_contract::kControlFd + 1 &&
                  ipc::device_contract::kReportFd == ipc::device_contract::kControlFd + 2);
    spec.keep_fds = {device_end.get(), filter.get(), report_write.get()};
    // The device's stderr is a pipe of its own that brig reads (device_log.h), never
    // brig's stderr: nothing the device writes reaches the operator unfiltered.
    int log_pipe[2];
    if (pipe2(log_pipe, O_CLOEXEC) != 0) base::throw_errno("pipe2(" + config.name + " log)");
    base::UniqueFd log_read(log_pipe[0]), log_write(log_pipe[1]);
    spec.stderr_fd = log_write.get();
    if (config.cgroup) spec.join_cgroup_fds = config.cgroup->procs_fds();

    minijail::SpawnedProcess spawned = minijail::spawn_in_new_pid_namespace(spec);
    auto process = std::unique_ptr<DeviceProcess>(new DeviceProcess());
    process->name_ = config.name;
    process->pid_ = spawned.pid;
    process->pidfd_ = std::move(spawned.pidfd);
    // While the pidfd is held the pid cannot be reused, so this is the device's entry.
    process->proc_io_.reset(::open(("/proc/" + std::to_string(process->pid_) + "/io").c_str(), O_RDONLY | O_CLOEXEC));
    process->cgroup_ = config.cgroup;
    process->report_read_ = std::move(report_read);
    process->log_.emplace(config.name, std::move(log_read));
    log_write.reset();
    fcntl(process->report_read_.get(), F_SETFL, O_NONBLOCK);
    report_write.reset();  // only the device holds the write end: its death is our EOF
    // The device jails itself, installs its filter and sends the listener before it
    // serves; until we hold it, its next syscall waits, so take it before connecting.
    process->watch_threads();  // it has one thread until it serves
    base::UniqueFd listener = process->receive_seccomp_listener(kListenerTimeout);
    process->report_read_.reset();  // nothing the device says there matters any more
    if (config.on_seccomp_listener)
        config.on_seccomp_listener(process->pid_, std::move(listener));
    else
        process->violation_listener_ = std::move(listener);
    process->verdict_ = std::make_shared<Verdict>();
    process->verdict_->pidfd.reset(fcntl(process->pidfd_.get(), F_DUPFD_CLOEXEC, 0));
    if (!process->verdict_->pidfd) base::throw_errno("dup(" + config.name + " pidfd)");
    process->control_ = ipc.connect(
        config.name, std::move(vmm_end), std::move(on_report),
        [verdict = process->verdict_](const std::string&, const ipc::ControlFault& fault) { verdict->kill_for(fault); },
        config.on_connect_host);
    logging::note_pid(config.name, spawned.pid);
    spdlog::debug("[{}] device process pid {} started", config.name, spawned.pid);
    return process;
}

DeviceProcess::~DeviceProcess() {
    if (pid_ > 0 && !reaped()) {
        kill_by_pidfd(pidfd_.get());
        reap();
    }
}

bool DeviceProcess::take_violation() {
    if (!violation_listener_ || violation_) return false;
    pollfd pfd{violation_listener_.get(), POLLIN, 0};
    if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN)) return false;
    seccomp_notif req;
    std::memset(&req, 0, sizeof req);  // the kernel insists
    // ENOENT: the syscall was withdrawn (the device died first); nothing to name.
    if (ioctl(violation_listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return false;
    std::string syscall;
    violation_ = describe_syscall(req, syscall);
    violation_fields_ = "reason=seccomp syscall=" + syscall;
    // The refused syscall never returns: the device dies here, whatever it intended.
    kill_by_pidfd(pidfd_.get());
    return true;
}

ListenerHandover receive_listener_handover(int report_fd, const std::string& device, std::chrono::milliseconds timeout,
                                           const std::function<std::optional<ProcessActivity>()>& activity) {
    auto refuse = [](std::string why) { return ListenerHandover{base::UniqueFd(), std::move(why)}; };
    // `timeout` counts only while the device sleeps (stall_watch.h): one that waits
    // for a CPU on a loaded host is not refused, up to the backstop.
    StallWatch stall(timeout);
    const auto backstop = std::chrono::steady_clock::now() + kListenerBackstop;
    const auto step = std::min(timeout, kStallCheckInterval);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= backstop)
            return refuse("sent no seccomp listener within " + std::to_string(kListenerBackstop.count()) + " ms");
        if (activity) {
            if (stall.observe(now, true, activity()))
                return refuse("sent no seccomp listener within " + std::to_string(timeout.count()) +
                              " ms, asleep all along");
            deadline = now + step;
        } else if (now >= deadline) {
            return refuse("sent no seccomp listener within " + std::to_string(timeout.count()) + " ms");
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        pollfd pfd{report_fd, POLLIN, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 1)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) base::throw_errno("poll(" + device + " report)");
        if (ready == 0) continue;
        char payload[32] = {};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
        iovec iov{payload, sizeof payload};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = recvmsg(report_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) base::throw_errno("recvmsg(" + device + " report)");
        // Take ownership of every fd that came along before judging the message.
        std::vector<base::UniqueFd> fds;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                fds.emplace_back(fd);
            }
        }
        if (n == 0) return refuse("closed its report socket before sending its seccomp listener");
        if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
            std::string_view(payload, static_cast<size_t>(n)) != ipc::device_contract::kListenerTag ||
            fds.size() != 1 || !is_seccomp_listener(fds[0].get()))
            return refuse("sent something other than its seccomp listener");
        return ListenerHandover{std::move(fds[0]), {}};
    }
}

base::UniqueFd DeviceProcess::receive_seccomp_listener(std::chrono::milliseconds timeout) {
    ListenerHandover handover =
        receive_listener_handover(report_read_.get(), name_, timeout, [this] { return activity(); });
    if (handover.listener) return std::move(handover.listener);
    if (!reaped()) {
        kill_by_pidfd(pidfd_.get());
        reap();
    }
    throw DeviceCrashed(fmt::format("{} (pid {}) {}: {}", name_, pid_, *exit_description_, handover.refusal),
                        fmt::format("{} pid={} {}", name_, pid_, failure_fields_));
}

const std::string& DeviceProcess::reap() {
    if (exit_description_) return *exit_description_;
    take_violation();
    if (log_) log_->finish();  // its last words first
    siginfo_t info{};
    while (waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) != 0) {
        if (errno != EINTR) {
            exit_description_ = fmt::format("could not be reaped: {}", base::errno_text(errno));
            return *exit_description_;
        }
    }
    if (info.si_code == CLD_EXITED && info.si_status == sandbox::kDeviceExitOutOfMemory) {
        // The device's own word, but only about itself: it is dead either way.
        exit_description_ =
            fmt::format("exited with status {} (out of memory: an allocation failed under its bound)", info.si_status);
        failure_fields_ = fmt::format("exit={} reason=memory-limit", info.si_status);
    } else if (info.si_code == CLD_EXITED) {
        exit_description_ = fmt::format("exited with status {}", info.si_status);
        failure_fields_ = fmt::format("exit={}", info.si_status);
    } else {
        const char* sig = sigabbrev_np(info.si_status);
        const std::string signame = std::string("SIG") + (sig ? sig : "?");
        exit_description_ = "killed by " + signame;
        failure_fields_ = "signal=" + signame;
        const auto fault = verdict_ ? verdict_->get() : std::nullopt;
        if (info.si_status == SIGKILL && cgroup_ && cgroup_->oom_killed()) {
            *exit_description_ += fmt::format(" (out of memory: the OOM killer of its cgroup, limit {} MiB)",
                                              cgroup_->memory_limit() >> 20);
            failure_fields_ += " reason=memory-limit";
        } else if (info.si_status == SIGKILL && fault) {
            exit_description_ = fmt::format("killed by brig: {}: {}", ipc::reason_of(fault->kind), fault->detail);
            failure_fields_ = std::string("reason=") + ipc::reason_of(fault->kind);
        }
    }
    if (violation_) {
        // However it ended, a device that made a refused syscall is named with it.
        exit_description_ = "stopped by brig for a seccomp violation: " + *violation_;
        failure_fields_ = violation_fields_;
    }
    if (cgroup_) cgroup_->remove();  // empty now: the device and its threads are gone
    violation_listener_.reset();     // a listener without a process hangs up every poll
    return *exit_description_;
}

void DeviceProcess::wait_or_kill(std::chrono::milliseconds timeout) {
    if (reaped()) return;
    if (take_violation()) timeout = std::chrono::milliseconds(kDeviceKillWaitMs);
    pollfd pfd{pidfd_.get(), POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) {
        spdlog::warn("[{}] pid {} did not exit within {} ms of shutdown; killing it", name_, pid_, timeout.count());
        kill_by_pidfd(pidfd_.get());
    }
    reap();
}

void DeviceProcess::watch_threads() {
    thread_stats_.clear();
    const std::string task_dir = "/proc/" + std::to_string(pid_) + "/task";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(task_dir, ec)) {
        base::UniqueFd fd(::open((entry.path() / "stat").c_str(), O_RDONLY | O_CLOEXEC));
        if (fd) thread_stats_.push_back(std::move(fd));
    }
}

std::optional<ProcessActivity> DeviceProcess::activity() const {
    if (thread_stats_.empty() || reaped()) return std::nullopt;
    ProcessActivity total;
    for (const auto& fd : thread_stats_) {
        char text[512];
        const ssize_t n = ::pread(fd.get(), text, sizeof text - 1, 0);
        if (n <= 0) continue;  // that thread has exited
        const auto thread = parse_proc_stat(std::string_view(text, static_cast<size_t>(n)));
        if (!thread) continue;
        total.cpu_ticks += thread->cpu_ticks;
        total.could_run |= thread->state == 'R' || thread->state == 'D' || thread->state == 'T' || thread->state == 't';
    }
    return total;
}

std::optional<DeviceProcess::IoCounters> DeviceProcess::io_counters() const {
    if (!proc_io_ || reaped()) return std::nullopt;
    char text[512];
    const ssize_t n = ::pread(proc_io_.get(), text, sizeof text - 1, 0);
    if (n <= 0) return std::nullopt;
    text[n] = '\0';
    auto field = [&text](const char* name) -> std::optional<uint64_t> {
        const char* at = std::strstr(text, name);
        if (!at) return std::nullopt;
        return std::strtoull(at + std::strlen(name), nullptr, 10);
    };
    const auto in = field("rchar: ");
    const auto out = field("wchar: ");
    if (!in || !out) return std::nullopt;
    return IoCounters{*in, *out};
}

}  // namespace brig
