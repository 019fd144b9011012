#include "vmm/devices/stall_watch.h"

#include <charconv>

namespace brig {

std::optional<ThreadActivity> parse_proc_stat(std::string_view text) {
    // "PID (COMM) S ppid ...": COMM may hold spaces and parentheses, so fields are
    // counted from the last ')'. utime and stime are fields 14 and 15.
    const size_t close = text.rfind(')');
    if (close == std::string_view::npos || close + 2 >= text.size()) return std::nullopt;
    ThreadActivity activity;
    activity.state = text[close + 2];
    std::string_view rest = text.substr(close + 2);
    uint64_t fields[13] = {};
    for (unsigned field = 3; field <= 15; ++field) {  // field 3 is the state
        const size_t start = rest.find_first_not_of(' ');
        if (start == std::string_view::npos) return std::nullopt;
        rest.remove_prefix(start);
        const size_t end = std::min(rest.find(' '), rest.size());
        if (field >= 4) {
            const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + end, fields[field - 3]);
            if (ec != std::errc() && field >= 14) return std::nullopt;
        }
        rest.remove_prefix(end);
    }
    activity.cpu_ticks = fields[11] + fields[12];
    return activity;
}

bool StallWatch::observe(Clock::time_point now, bool owed, std::optional<ProcessActivity> activity) {
    if (!activity) return false;  // nothing to tell by: never a verdict
    const bool ran = last_cpu_ && activity->cpu_ticks != *last_cpu_;
    last_cpu_ = activity->cpu_ticks;
    if (!owed || ran || activity->could_run) {
        idle_since_.reset();
        return false;
    }
    if (!idle_since_) idle_since_ = now;
    return now - *idle_since_ >= limit_;
}

}  // namespace brig
