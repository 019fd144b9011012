// brig on an operator's terminal: a pseudo-terminal with job control. In the
// foreground brig puts the terminal in raw mode, so every key (Ctrl-C, Ctrl-Z, Ctrl-S)
// reaches the guest, and only its escapes (Ctrl-A x, Ctrl-A Ctrl-A) stay with brig. In
// the background (`brig run ... &`) it leaves the terminal alone, runs, and takes the
// terminal when `fg` brings it forward; stopped, it still ends cleanly on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <sstream>
#include <regex>
#include <thread>

#include "tests/integration/brig_process.h"
#include "tests/integration/pty_session.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> brig_on_pty(const std::string& mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {brig_binary()};
    const auto args = guest_args(mode, std::move(extra));
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

std::string shell_words(const std::vector<std::string>& argv) {
    std::string line;
    for (const auto& word : argv) line += (line.empty() ? "" : " ") + word;
    return line;
}

// An interactive bash with job control on its own pty, at its first prompt.
struct Shell {
    Shell() : pty({"/bin/bash", "--norc", "--noprofile", "-i"}, {"PS1=$ ", "TERM=dumb", "HISTFILE=/dev/null"}) {
        REQUIRE(pty.wait_for("$ ", 10s));
    }
    // Starts brig as a background job and returns its pid.
    pid_t start_background(const std::vector<std::string>& argv) {
        const size_t from = pty.output().size();
        pty.send(shell_words(argv) + " & echo BRIGPID=$!\n");
        REQUIRE(pty.wait_for("BRIGPID=", 10s, from));
        std::smatch m;
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        const std::regex pid_re("BRIGPID=([0-9]+)");
        while (!std::regex_search(out = pty.output().substr(from), m, pid_re)) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            pty.wait_for("\n", 100ms, pty.output().size());
        }
        return static_cast<pid_t>(std::stoi(m[1]));
    }
    PtySession pty;
};

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout, PtySession& pty) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (process_state(pid) != '?' && process_state(pid) != 'Z') {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        pty.wait_for("\x7f-never", 100ms, pty.output().size());
    }
    return true;
}

// The terminal's local modes, as the pty's master sees them (the slave's termios).
bool terminal_is_raw(const PtySession& pty) {
    termios t{};
    if (tcgetattr(pty.master_fd(), &t) != 0) return false;
    return (t.c_lflag & (ICANON | ISIG | ECHO)) == 0;
}

}  // namespace

TEST_CASE("brig run & in an interactive shell runs in the background and takes the terminal on fg", "[terminal]") {
    const TempFile failure;
    Shell shell;
    const pid_t brig = shell.start_background(brig_on_pty("echo", {"--failure-file", failure.path}));
    INFO("terminal:\n" << shell.pty.output());
    // Backgrounded, brig must neither touch the terminal (SIGTTOU) nor read it (SIGTTIN).
    REQUIRE(shell.pty.wait_for("echo: ready", 20s));
    std::this_thread::sleep_for(1s);
    REQUIRE(process_state(brig) != 'T');
    CHECK_FALSE(terminal_is_raw(shell.pty));

    const size_t before_fg = shell.pty.output().size();
    shell.pty.send("fg\n");
    // brig takes the terminal once it is in the foreground, and the guest gets the keys.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!terminal_is_raw(shell.pty)) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(50ms);
    }
    shell.pty.send("hi");
    CHECK(shell.pty.wait_for("hi", 10s, before_fg + 3));
    shell.pty.send("q");
    REQUIRE(wait_gone(brig, 20s, shell.pty));
    CHECK(failure.content() == "SHUTDOWN\n");
    CHECK_FALSE(terminal_is_raw(shell.pty));
}

namespace {
// User plus system CPU time of `pid`'s main thread (the supervisor; the vCPU thread
// runs the guest's busy loop), in clock ticks.
long cpu_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    if (stat.rfind(')') == std::string::npos) return -1;  // gone
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {
        if (i == 14) utime = std::stol(field);
        if (i == 15) stime = std::stol(field);
    }
    return utime + stime;
}
}  // namespace

TEST_CASE("with stty tostop, a background brig holds the guest's output until fg, without spinning", "[terminal]") {
    const TempFile failure;
    Shell shell;
    shell.pty.send("stty tostop\n");
    // Quoted for the shell: the guest's command line has a space.
    const pid_t brig = shell.start_background({brig_binary(), "run", "--kernel", test_guest(), "--cmdline",
                                               "'mode=spin lines=12'", "--mem", "64", "--failure-file", failure.path});
    INFO("terminal:\n" << shell.pty.output());
    std::this_thread::sleep_for(500ms);
    INFO("record: " << failure.content());
    const long before = cpu_ticks(brig);
    REQUIRE(before >= 0);
    std::this_thread::sleep_for(3s);  // the guest prints a line every ~0.5 s meanwhile
    const long used = cpu_ticks(brig) - before;
    CHECK(process_state(brig) != 'T');
    CHECK(used < sysconf(_SC_CLK_TCK) / 2);  // under 0.5 s of CPU in 3 s: it waits, it does not spin
    CHECK(shell.pty.output().find("spin: 3") == std::string::npos);
    shell.pty.send("fg\n");
    REQUIRE(wait_gone(brig, 20s, shell.pty));
    CHECK_THAT(shell.pty.output(), Contains("spin: 3") && Contains("spin: 11"));
    CHECK(failure.content() == "SHUTDOWN\n");
}

TEST_CASE("a foreground brig stopped from outside gives the shell its terminal and retakes it on fg", "[terminal]") {
    const TempFile failure;
    Shell shell;
    const size_t from = shell.pty.output().size();
    shell.pty.send(shell_words(brig_on_pty("echo", {"--failure-file", failure.path})) + "\n");
    INFO("terminal:\n" << shell.pty.output());
    REQUIRE(shell.pty.wait_for("echo: ready", 20s, from));
    const auto wait_raw = [&](bool raw) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (terminal_is_raw(shell.pty) != raw) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(50ms);
        }
    };
    wait_raw(true);
    // The job's process group is brig's own pid (bash made brig a group leader).
    REQUIRE(kill(-tcgetpgrp(shell.pty.master_fd()), SIGSTOP) == 0);
    wait_raw(false);  // bash has its own modes back
    const size_t before_fg = shell.pty.output().size();
    shell.pty.send("fg\n");
    wait_raw(true);  // SIGCONT: brig is in the foreground again
    shell.pty.send("ok");
    CHECK(shell.pty.wait_for("ok", 10s, before_fg + 3));
    shell.pty.send("q");
    CHECK(shell.pty.wait_for("echo: done", 20s, before_fg));
    CHECK(shell.pty.wait_for("brig: SHUTDOWN: ", 20s, before_fg));
}

TEST_CASE("a stopped background brig ends cleanly on SIGTERM", "[terminal]") {
    Shell shell;
    SECTION("kill %1: bash sends SIGTERM, then SIGCONT") {
        const TempFile failure;
        const pid_t brig = shell.start_background(brig_on_pty("echo", {"--failure-file", failure.path}));
        INFO("terminal:\n" << shell.pty.output());
        REQUIRE(shell.pty.wait_for("echo: ready", 20s));
        shell.pty.send("kill -STOP %1\n");
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (process_state(brig) != 'T') {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(50ms);
        }
        shell.pty.send("kill %1\n");
        REQUIRE(wait_gone(brig, 10s, shell.pty));
        CHECK(failure.content() == "KILLED signal=SIGTERM\n");
    }
    SECTION("kill -TERM, then kill -CONT") {
        const TempFile failure;
        const pid_t brig = shell.start_background(brig_on_pty("echo", {"--failure-file", failure.path}));
        INFO("terminal:\n" << shell.pty.output());
        REQUIRE(shell.pty.wait_for("echo: ready", 20s));
        REQUIRE(kill(brig, SIGSTOP) == 0);
        std::this_thread::sleep_for(300ms);
        REQUIRE(kill(brig, SIGTERM) == 0);
        std::this_thread::sleep_for(300ms);
        CHECK(process_state(brig) == 'T');  // a stopped process waits, with SIGTERM pending
        REQUIRE(kill(brig, SIGCONT) == 0);
        REQUIRE(wait_gone(brig, 10s, shell.pty));
        CHECK(failure.content() == "KILLED signal=SIGTERM\n");
    }
}

TEST_CASE("the terminal is raw: Ctrl-C, Ctrl-Z, Ctrl-S, CR reach the guest; Ctrl-A escapes stay with brig",
          "[terminal]") {
    const TempFile failure;
    PtySession pty(brig_on_pty("echo", {"--failure-file", failure.path}));
    INFO("terminal:\n" << pty.output());
    REQUIRE(pty.wait_for("echo: ready", 20s));
    const size_t start = pty.output().size();
    // Ctrl-C, Ctrl-Z, Ctrl-S, Ctrl-Q, Ctrl-\ and a CR, echoed back by the guest byte for byte.
    const std::string keys = std::string(
        "a\x03"
        "b\x1a"
        "c\x13"
        "d\x11"
        "e\x1c"
        "f\r"
        "g");
    pty.send(keys);
    CHECK(pty.wait_for(keys, 10s, start));
    // Ctrl-A Ctrl-A gives the guest one Ctrl-A.
    pty.send("\x01\x01z");
    CHECK(pty.wait_for("\x01z", 10s, start));
    CHECK(pty.output().find("\x01\x01", start) == std::string::npos);
    CHECK(process_state(pty.pid()) != 'T');
    // Ctrl-A x quits, and brig's last line starts on a line of its own although the
    // guest left the cursor after "z".
    pty.send("\x01x");
    const int status = pty.wait_exit(20s);
    REQUIRE(status != -1);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(failure.content() == "KILLED console=ctrl-a-x\n");
    const auto final_line = pty.output().find("brig: KILLED: ", start);
    REQUIRE(final_line != std::string::npos);
    CHECK(pty.output().substr(start, final_line - start).ends_with("z\r\n"));
    // The escape's x never reached the guest.
    CHECK(pty.output().substr(start, final_line - start).find('x') == std::string::npos);
}

TEST_CASE("Ctrl-A x works while the guest reads nothing and keys pile up", "[terminal]") {
    const TempFile failure;
    // Prints a line, then halts without pvpanic: a guest that hangs.
    PtySession pty(brig_on_pty("panic pvpanic=0", {"--failure-file", failure.path}));
    INFO("terminal:\n" << pty.output());
    REQUIRE(pty.wait_for("panic: requested", 20s));
    // More than the console's input pipe holds: brig must keep reading the terminal.
    const std::string keys(128 * 1024, 'k');
    size_t sent = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (sent < keys.size() && std::chrono::steady_clock::now() < deadline)
        sent += pty.send_some(keys.substr(sent, 4096), 100ms);
    CHECK(sent == keys.size());
    pty.send_some("\x01x", 5s);
    const int status = pty.wait_exit(20s);
    REQUIRE(status != -1);
    CHECK(WIFEXITED(status));
    CHECK(failure.content() == "KILLED console=ctrl-a-x\n");
}

TEST_CASE("brig run --help documents the console escapes", "[terminal]") {
    const auto r = run_brig({{"run", "--help"}});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("Ctrl-A x"));
    CHECK_THAT(r.out, Contains("Ctrl-A Ctrl-A"));
}
