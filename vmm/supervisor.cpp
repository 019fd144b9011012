#include "supervisor.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <vector>

#include "error.h"
#include "sandbox/vmm_sigsys.h"

namespace brig {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRetryInputMs = 10;
constexpr std::chrono::milliseconds kDeviceShutdownTimeout(1000);
constexpr std::chrono::milliseconds kDeviceExitTimeout(1000);

// Puts an interactive terminal into non-canonical, no-echo mode for the guest's
// console and restores it however brig leaves. Ctrl-C still reaches brig as SIGINT.
class TerminalRawMode {
public:
    TerminalRawMode() {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios raw = saved_;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~TerminalRawMode() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    TerminalRawMode(const TerminalRawMode&) = delete;
    TerminalRawMode& operator=(const TerminalRawMode&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

// Bytes read from stdin that the in-process UART has not accepted yet.
class ConsoleInput {
public:
    explicit ConsoleInput(devices::Serial16550& serial) : serial_(serial) {}
    bool open() const { return open_; }
    bool backlogged() const { return !pending_.empty(); }

    void read_stdin() {
        uint8_t buf[256];
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) {
            pending_.insert(pending_.end(), buf, buf + n);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            open_ = false;  // EOF or a dead stdin: the guest simply gets no more input
        }
        flush();
    }
    void flush() {
        const size_t taken = serial_.queue_input(pending_);
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
    }

private:
    devices::Serial16550& serial_;
    std::vector<uint8_t> pending_;
    bool open_ = true;
};

UniqueFd open_signalfd(const sigset_t& signals) {
    UniqueFd fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) throw_errno("signalfd");
    return fd;
}

void on_host_signal(Vm& vm, int sigfd) {
    signalfd_siginfo info{};
    if (::read(sigfd, &info, sizeof info) != sizeof info) return;
    const char* abbrev = sigabbrev_np(static_cast<int>(info.ssi_signo));
    const std::string name = std::string("SIG") + (abbrev ? abbrev : "?");
    vm.board.request_stop({StopKind::HostSignal, "stopped by " + name, "signal=" + name});
}

void on_device_exit(Vm& vm, SandboxedDevice& device) {
    const std::string& how = device.process->reap();
    vm.board.request_stop({StopKind::DeviceCrash,
                           fmt::format("{} (pid {}) {}", device.process->name(), device.process->pid(), how),
                           fmt::format("{} pid={} {}", device.process->name(), device.process->pid(),
                                       device.process->failure_fields())});
    // Only now wake a vCPU waiting on it: its "device is gone" must not win the race
    // against the real cause of death recorded above.
    device.proxy->mark_peer_dead();
}

// Every device still alive is asked to flush and stop, then given a deadline to exit.
void stop_devices(Vm& vm) {
    for (auto& device : vm.devices) {
        if (device.process->reaped()) continue;
        try {
            device.process->control().shutdown(kDeviceShutdownTimeout);
        } catch (const std::exception& e) {
            spdlog::warn("[{}] shutdown: {}", device.process->name(), e.what());
        }
    }
    for (auto& device : vm.devices) device.process->wait_or_kill(kDeviceExitTimeout);
}

void install_vmm_filters(Vm& vm) {
    if (!vm.thread_filters) return;
    vm.ipc->run_on_thread([&] { install_thread_filter("ipc", vm.thread_filters->ipc); });
    install_thread_filter("main", vm.thread_filters->main);
}

}  // namespace

sigset_t block_supervisor_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) throw_errno("pthread_sigmask");
    signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an EPIPE, not a death
    return set;
}

StopReason supervise(Vm& vm, const sigset_t& signals, const SupervisorOptions& options) {
    UniqueFd sigfd = open_signalfd(signals);
    std::optional<TerminalRawMode> raw_mode;
    std::optional<ConsoleInput> input;
    if (options.forward_stdin || options.console_reads_stdin) raw_mode.emplace();
    if (options.forward_stdin && vm.in_process_serial) input.emplace(*vm.in_process_serial);
    std::optional<Clock::time_point> boot_deadline;
    if (options.boot_timeout_seconds) boot_deadline = Clock::now() + std::chrono::seconds(*options.boot_timeout_seconds);

    vm.board.start();
    // From here every thread of brig runs under its seccomp filter: the vCPU threads
    // installed theirs as they started, the IPC and main threads do it now.
    install_vmm_filters(vm);

    while (!vm.board.stop_reason()) {
        std::vector<pollfd> fds = {{vm.board.stop_fd(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
        for (const auto& device : vm.devices) fds.push_back({device.process->pidfd(), POLLIN, 0});
        const size_t stdin_index = fds.size();
        const bool poll_stdin = input && input->open() && !input->backlogged();
        if (poll_stdin) fds.push_back({STDIN_FILENO, POLLIN, 0});

        int timeout = input && input->backlogged() ? kRetryInputMs : -1;
        if (boot_deadline && !vm.guest_alive) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*boot_deadline - Clock::now());
            const int boot_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
            timeout = timeout < 0 ? boot_ms : std::min(timeout, boot_ms);
        }
        if (poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll (supervisor)");
        }
        if (fds[1].revents & POLLIN) on_host_signal(vm, sigfd.get());
        for (size_t i = 0; i < vm.devices.size(); ++i) {
            if ((fds[2 + i].revents & POLLIN) && !vm.devices[i].process->reaped()) on_device_exit(vm, vm.devices[i]);
        }
        if (input && input->backlogged()) input->flush();
        if (poll_stdin && (fds[stdin_index].revents & (POLLIN | POLLHUP | POLLERR))) input->read_stdin();
        if (boot_deadline && !vm.guest_alive && Clock::now() >= *boot_deadline) {
            vm.board.request_stop({StopKind::Hangup,
                                   fmt::format("no console output within --boot-timeout {} s", *options.boot_timeout_seconds),
                                   fmt::format("after={}s", *options.boot_timeout_seconds)});
        }
    }

    vm.board.wind_down();
    stop_devices(vm);
    return *vm.board.stop_reason();
}

}  // namespace brig
