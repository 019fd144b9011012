// Runs the real `brig` binary as a child and records what a user would see: exit
// status, stdout (the guest console), stderr (brig's own lines) and timing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace brig::test {

struct BrigResult {
    int exit_code = -1;  // -1 when killed by a signal
    int term_signal = 0;
    bool timed_out = false;
    std::string out;
    std::string err;
    std::chrono::milliseconds elapsed{0};
    std::optional<std::chrono::milliseconds> first_output;  // first console byte
    std::vector<std::string> err_lines() const;
};

struct BrigRun {
    BrigRun(std::vector<std::string> arguments) : args(std::move(arguments)) {}  // NOLINT: implicit on purpose

    std::vector<std::string> args;                           // after the binary name
    std::string binary;                                      // default: $BRIG
    std::string stdin_data;                                  // written to brig's stdin, then closed
    std::chrono::milliseconds timeout{20000};                // then SIGKILL, and the run counts as timed out
    std::optional<std::chrono::milliseconds> sigterm_after;  // a clean stop request
    // Called after each read of stdout with everything so far; may signal `pid`.
    std::function<void(const std::string& out, pid_t pid)> on_output;
    // Runs in the child before exec (e.g. to hide /dev/kvm in a new mount namespace).
    std::function<void()> in_child;
};

BrigResult run_brig(const BrigRun& run);

// Paths from the environment set by meson; a missing one fails the test loudly.
std::string brig_binary();
std::string test_guest();          // PVH ELF
std::string test_guest_bzimage();  // the same guest as a bzImage
std::string env_or_fail(const char* name);

// The guest's command line for a test-guest mode.
std::vector<std::string> guest_args(const std::string& mode, std::vector<std::string> extra = {});

// `brig run` of the test guest with a whole guest command line (64 MiB, 60 s timeout).
BrigResult run_guest(const std::string& cmdline, const std::vector<std::string>& extra = {});
// The run ended by itself with exit status `code` (REQUIREd; stdout and stderr shown).
void require_exit(const BrigResult& r, int code);

}  // namespace brig::test
