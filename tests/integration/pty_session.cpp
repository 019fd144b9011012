#include "tests/integration/pty_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace brig::test {
namespace {
using Clock = std::chrono::steady_clock;
}

PtySession::PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master_ >= 0);
    REQUIRE(grantpt(master_) == 0);
    REQUIRE(unlockpt(master_) == 0);
    const std::string slave = ptsname(master_);
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);

    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        // A new session whose controlling terminal is the pty, like a terminal window.
        if (setsid() < 0) _exit(90);
        const int fd = open(slave.c_str(), O_RDWR);
        if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) != 0) _exit(91);
        for (int target : {0, 1, 2}) dup2(fd, target);
        if (fd > 2) close(fd);
        // The test runner may have blocked or ignored signals; a shell expects defaults.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int sig : {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGCHLD}) signal(sig, SIG_DFL);
        for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
        execv(cargv[0], cargv.data());
        _exit(127);
    }
}

PtySession::~PtySession() {
    if (pid_ > 0 && !reaped_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
}

void PtySession::send(const std::string& bytes) const {
    REQUIRE(write(master_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

size_t PtySession::send_some(const std::string& bytes, std::chrono::milliseconds timeout) {
    size_t sent = 0;
    const auto deadline = Clock::now() + timeout;
    while (sent < bytes.size() && Clock::now() < deadline) {
        pollfd pfd{master_, POLLOUT, 0};
        if (poll(&pfd, 1, 10) == 1) {
            const int flags = fcntl(master_, F_GETFL);
            fcntl(master_, F_SETFL, flags | O_NONBLOCK);
            const ssize_t n = write(master_, bytes.data() + sent, bytes.size() - sent);
            fcntl(master_, F_SETFL, flags);
            if (n > 0) sent += static_cast<size_t>(n);
        }
        drain(std::chrono::milliseconds(0));
    }
    return sent;
}

void PtySession::drain(std::chrono::milliseconds wait) {
    pollfd pfd{master_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(wait.count())) <= 0) return;
    char buf[4096];
    const ssize_t n = read(master_, buf, sizeof buf);  // EIO once every slave fd is closed
    if (n > 0)
        output_.append(buf, static_cast<size_t>(n));
    else if (n < 0 && wait.count() > 0)
        usleep(static_cast<useconds_t>(wait.count()) * 1000);
}

const std::string& PtySession::output() {
    drain(std::chrono::milliseconds(0));
    return output_;
}

bool PtySession::wait_for(const std::string& text, std::chrono::milliseconds timeout, size_t from) {
    const auto deadline = Clock::now() + timeout;
    while (output_.find(text, from) == std::string::npos) {
        if (Clock::now() >= deadline) return false;
        drain(std::chrono::milliseconds(50));
    }
    return true;
}

int PtySession::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            reaped_ = true;
            drain(std::chrono::milliseconds(50));
            return status;
        }
        drain(std::chrono::milliseconds(50));
    }
    return -1;
}

char process_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return '?';
    return stat[paren + 2];
}

}  // namespace brig::test
