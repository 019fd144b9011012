#include "supervisor.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <spdlog/spdlog.h>
#include <vector>

#include "error.h"

namespace brig {
namespace {

constexpr int kRetryInputMs = 10;

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

// Bytes read from stdin that the UART has not accepted yet.
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

}  // namespace

sigset_t block_supervisor_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) throw_errno("pthread_sigmask");
    signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an EPIPE, not a death
    return set;
}

StopReason supervise(Vm& vm, const sigset_t& signals, bool forward_stdin) {
    UniqueFd sigfd = open_signalfd(signals);
    std::optional<TerminalRawMode> raw_mode;
    std::optional<ConsoleInput> input;
    if (forward_stdin) {
        raw_mode.emplace();
        input.emplace(*vm.serial);
    }

    vm.board.start();
    while (!vm.board.stop_reason()) {
        std::vector<pollfd> fds = {{vm.board.stop_fd(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
        const bool poll_stdin = input && input->open() && !input->backlogged();
        if (poll_stdin) fds.push_back({STDIN_FILENO, POLLIN, 0});
        const int timeout = input && input->backlogged() ? kRetryInputMs : -1;
        if (poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll (supervisor)");
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            if (::read(sigfd.get(), &info, sizeof info) == sizeof info) {
                const char* name = sigabbrev_np(static_cast<int>(info.ssi_signo));
                vm.board.request_stop({StopKind::HostSignal, std::string("stopped by SIG") + (name ? name : "?")});
            }
        }
        if (input && input->backlogged()) input->flush();
        if (poll_stdin && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) input->read_stdin();
    }

    vm.board.wind_down();
    return *vm.board.stop_reason();
}

}  // namespace brig
