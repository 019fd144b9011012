#include "vmm/console/terminal.h"

#include <signal.h>
#include <unistd.h>

#include "base/error.h"

namespace brig {
namespace {

void interrupt_only(int) {}

// SIGTTOU/SIGTTIN on this thread interrupt the call that raised them (no SA_RESTART)
// instead of stopping brig.
void catch_job_control_signals() {
    struct sigaction sa {};
    sa.sa_handler = interrupt_only;
    sigemptyset(&sa.sa_mask);
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTTOU, SIGTTIN}) {
        if (sigaction(sig, &sa, nullptr) != 0) base::throw_errno("sigaction(SIGTTOU/SIGTTIN)");
        sigaddset(&set, sig);
    }
    if (pthread_sigmask(SIG_UNBLOCK, &set, nullptr) != 0) base::throw_errno("pthread_sigmask");
}

}  // namespace

ConsoleTerminal::ConsoleTerminal() : is_tty_(isatty(STDIN_FILENO) != 0), own_group_(getpgrp()) {
    if (!is_tty_) return;
    catch_job_control_signals();
    if (in_foreground()) take();
}

ConsoleTerminal::~ConsoleTerminal() {
    if (raw_ && in_foreground()) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    // Blocked again, as in every other thread: brig's last line, written to a terminal
    // with TOSTOP from the background, must not be interrupted forever.
    if (is_tty_) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTTOU);
        sigaddset(&set, SIGTTIN);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
    }
}

bool ConsoleTerminal::in_foreground() const { return tcgetpgrp(STDIN_FILENO) == own_group_; }

void ConsoleTerminal::refresh() {
    if (!is_tty_) return;
    if (in_foreground())
        take();
    else
        raw_ = false;  // `bg`: the shell has the terminal (and restored its modes)
}

void ConsoleTerminal::take() {
    if (!saved_valid_) {
        if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        saved_valid_ = true;
    }
    termios raw = saved_;
    raw.c_iflag &= ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
    raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    // Backgrounded since the check: SIGTTOU interrupts this (EINTR) and brig waits for `fg`.
    raw_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
}

bool ConsoleTerminal::holds_output() const {
    termios modes{};
    return in_background() && tcgetattr(STDOUT_FILENO, &modes) == 0 && (modes.c_lflag & TOSTOP);
}

}  // namespace brig
