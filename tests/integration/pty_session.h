// A program on a pseudo-terminal of its own, as an operator's terminal session: the
// child is a session leader whose controlling terminal is the pty, so job control
// (foreground process group, SIGTTOU/SIGTTIN, `fg`) works as in a real shell window.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace brig::test {

class PtySession {
public:
    // Runs argv[0] (a path) with `argv` on a new pty; `env` entries are added to the environment.
    explicit PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
    ~PtySession();  // kills the child if it still runs
    PtySession(const PtySession&) = delete;
    PtySession& operator=(const PtySession&) = delete;

    // Types bytes on the terminal.
    void send(const std::string& bytes) const;
    // Types what the terminal takes within `timeout` (its input buffer may be full); returns how many.
    size_t send_some(const std::string& bytes, std::chrono::milliseconds timeout);
    // Everything the terminal showed so far (reads what is pending first).
    const std::string& output();
    // Reads until `text` appears after `from` in the output; false on timeout.
    bool wait_for(const std::string& text, std::chrono::milliseconds timeout, size_t from = 0);
    // Waits for the child to exit; its wait status, or -1 on timeout.
    int wait_exit(std::chrono::milliseconds timeout);

    pid_t pid() const { return pid_; }
    int master_fd() const { return master_; }

private:
    void drain(std::chrono::milliseconds wait);

    int master_ = -1;
    pid_t pid_ = -1;
    bool reaped_ = false;
    std::string output_;
};

// The state letter of /proc/PID/stat ('R', 'S', 'T' for stopped, ...), or '?' when gone.
char process_state(pid_t pid);

}  // namespace brig::test
