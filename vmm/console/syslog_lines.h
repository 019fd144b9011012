// A console device's output on its way to syslog (--serial type=syslog): the device
// writes a pipe of its own, as for stdout, and brig sends each line as one datagram,
// "<PRI>TAG: line", on a syslog socket it connected before any filter. Sent without
// blocking: a syslog daemon that is gone or full loses lines (counted), never stalls
// the supervisor. A line longer than kMaxLine goes out in pieces.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/unique_fd.h"

namespace brig {

class SyslogLines {
public:
    static constexpr size_t kMaxLine = 1024;

    // `read_end`: the pipe the device writes (made non-blocking); `socket`: connected
    // to syslog; `tag`: the port's, as "brig-ttyS1".
    SyslogLines(std::string device, base::UniqueFd read_end, base::UniqueFd socket, std::string tag);

    int read_fd() const { return open_ ? read_end_.get() : -1; }
    void read_available();  // the pipe is readable
    // The device is gone: what is left, a last partial line included, goes out.
    void finish();

private:
    void send(std::string_view line);

    std::string device_;
    base::UniqueFd read_end_;
    base::UniqueFd socket_;
    std::string tag_;
    bool open_ = true;
    std::string partial_;
    uint64_t dropped_ = 0;
};

}  // namespace brig
