// Whether a device that owes brig an answer is hung, or only waiting for a CPU.
//
// On a loaded host (twenty VMs on two CPUs) a device can wait well over a second to
// be scheduled, and that is no hang: a wall-clock deadline killed healthy VMs in the
// soak (bench/soak.py). So brig looks at what the kernel says of the device's threads:
// it is hung only when it has owed an answer for `limit` and, that whole time, none
// of its threads ran (their CPU time did not grow) or could run. A thread that is
// runnable (R), in uninterruptible sleep (D: slow I/O, a frozen cgroup) or stopped
// (T, t: SIGSTOP, a debugger) keeps the device alive; so does any CPU it used.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace brig {

// How long a device may sleep on an access it owes before brig calls it hung.
constexpr std::chrono::milliseconds kDeviceAnswerLimit{1000};
// How often the supervisor looks.
constexpr std::chrono::milliseconds kStallCheckInterval{200};

struct ThreadActivity {
    char state = '?';        // /proc/PID/task/TID/stat field 3
    uint64_t cpu_ticks = 0;  // utime + stime
};

// Parses a /proc/.../stat line; nothing when it is not one.
std::optional<ThreadActivity> parse_proc_stat(std::string_view text);

// What all of a process's watched threads did, summed.
struct ProcessActivity {
    bool could_run = false;  // some thread R, D, T or t
    uint64_t cpu_ticks = 0;
};

class StallWatch {
public:
    using Clock = std::chrono::steady_clock;
    explicit StallWatch(std::chrono::milliseconds limit) : limit_(limit) {}

    // Called at intervals: whether an answer is owed now, and what the threads did.
    // True once the device has owed an answer for `limit` without running.
    bool observe(Clock::time_point now, bool owed, std::optional<ProcessActivity> activity);

    std::chrono::milliseconds limit() const { return limit_; }

private:
    std::chrono::milliseconds limit_;
    std::optional<Clock::time_point> idle_since_;
    std::optional<uint64_t> last_cpu_;
};

}  // namespace brig
