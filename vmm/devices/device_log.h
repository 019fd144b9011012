// A device's stderr, read by brig. The device writes a pipe of its own, never brig's
// stderr: a compromised device could otherwise forge brig's lines, send terminal
// escapes, or punch holes in brig's log file. brig keeps printable characters only,
// cuts long lines, prefixes every line with the device's name and "device:" (its
// words, not brig's), and rate-limits them: a burst, then a count of what it dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/unique_fd.h"

namespace brig {

class DeviceLog {
public:
    static constexpr unsigned kBurstLines = 50;      // shown at once
    static constexpr unsigned kLinesPerSecond = 20;  // then, at most, on average

    DeviceLog(std::string device, base::UniqueFd read_end);  // read_end is made non-blocking
    int fd() const { return fd_.get(); }
    // Reads what the pipe holds and logs the complete lines (POLLIN, or at the end).
    void drain();
    // The device is gone: logs a last unfinished line and the count of dropped lines.
    void finish();

private:
    void line(std::string text);
    bool admit();

    std::string device_;
    base::UniqueFd fd_;
    std::string partial_;
    double tokens_ = kBurstLines;
    std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
    uint64_t dropped_ = 0;
};

}  // namespace brig
