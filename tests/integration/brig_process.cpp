#include "tests/integration/brig_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>

namespace brig::test {
namespace {
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}
}  // namespace

std::vector<std::string> BrigResult::err_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string env_or_fail(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value) FAIL("environment variable " << name << " is not set (run the tests through meson)");
    return value;
}

std::string brig_binary() { return env_or_fail("BRIG"); }
std::string test_guest() { return env_or_fail("BRIG_TEST_GUEST"); }
std::string test_guest_bzimage() { return env_or_fail("BRIG_TEST_GUEST_BZIMAGE"); }

std::vector<std::string> guest_args(const std::string& mode, std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "--kernel", test_guest(), "--cmdline", "mode=" + mode, "--mem", "64"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

BrigResult run_guest(const std::string& cmdline, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", "--kernel", test_guest(), "--cmdline", cmdline, "--mem", "64"};
    args.insert(args.end(), extra.begin(), extra.end());
    BrigRun run{args};
    run.timeout = std::chrono::seconds(60);
    return run_brig(run);
}

void require_exit(const BrigResult& r, int code) {
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.term_signal == 0);
    REQUIRE(r.exit_code == code);
}

BrigResult run_brig(const BrigRun& run) {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    REQUIRE(pipe2(in_pipe, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err_pipe, O_CLOEXEC) == 0);
    const std::string binary = run.binary.empty() ? brig_binary() : run.binary;
    std::vector<std::string> argv_store = {binary};
    argv_store.insert(argv_store.end(), run.args.begin(), run.args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);

    const auto start = Clock::now();
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(in_pipe[0], STDIN_FILENO);
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        if (run.in_child) run.in_child();
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (!run.stdin_data.empty()) {
        // Small inputs fit in the pipe buffer; write before the guest asks for them.
        [[maybe_unused]] auto n = write(in_pipe[1], run.stdin_data.data(), run.stdin_data.size());
    }
    close(in_pipe[1]);

    BrigResult result;
    bool out_open = true, err_open = true, killed = false, terminated = false;
    while (out_open || err_open) {
        if (run.sigterm_after && !terminated && since(start) >= *run.sigterm_after) {
            kill(pid, SIGTERM);
            terminated = true;
        }
        pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0}, {err_open ? err_pipe[0] : -1, POLLIN, 0}};
        const auto left = run.timeout - since(start);
        if (left.count() <= 0) {
            if (!killed) {
                kill(pid, SIGKILL);
                killed = true;
                result.timed_out = true;
            }
        }
        auto wait = left.count() > 0 ? left : std::chrono::milliseconds(100);
        if (run.sigterm_after && !terminated) wait = std::min(wait, *run.sigterm_after - since(start));
        poll(fds, 2, static_cast<int>(std::max<long>(wait.count(), 0)));
        char buf[4096];
        if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) {
            const ssize_t n = read(out_pipe[0], buf, sizeof buf);
            if (n <= 0) {
                out_open = false;
            } else {
                if (!result.first_output) result.first_output = since(start);
                result.out.append(buf, static_cast<size_t>(n));
                if (run.on_output) run.on_output(result.out, pid);
            }
        }
        if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) {
            const ssize_t n = read(err_pipe[0], buf, sizeof buf);
            if (n <= 0)
                err_open = false;
            else
                result.err.append(buf, static_cast<size_t>(n));
        }
    }
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    result.elapsed = since(start);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    return result;
}

}  // namespace brig::test
