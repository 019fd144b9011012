// A console device's output on its way to brig's stdout. The device writes a pipe of
// its own, never the operator's terminal or brig's stdout: a compromised device could
// otherwise send anything there, or set O_NONBLOCK on the shell's terminal. The
// supervisor moves the bytes along without ever blocking on either end: it reads when
// the pipe is readable and writes when stdout is writable, at most PIPE_BUF at a time
// (a pipe takes that whole; a terminal takes it from its buffer). A bounded backlog
// sits between the two; beyond it, bytes are dropped and counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "base/unique_fd.h"

namespace brig {

class OutputRelay {
public:
    static constexpr size_t kCapacity = 256 * 1024;

    // `read_end`: the pipe the device writes (made non-blocking); `out`: brig's stdout.
    OutputRelay(std::string device, base::UniqueFd read_end, int out);

    int read_fd() const { return open_ ? read_end_.get() : -1; }
    int out_fd() const { return out_; }
    bool has_room() const { return pending_.size() < kCapacity; }
    bool backlogged() const { return !pending_.empty(); }

    void read_available();  // the pipe is readable
    void write_some();      // stdout is writable
    // The device is gone: moves what is left to stdout, waiting at most `timeout` for it.
    void finish(std::chrono::milliseconds timeout);

private:
    std::string device_;
    base::UniqueFd read_end_;
    int out_;
    bool open_ = true;
    std::deque<uint8_t> pending_;
    uint64_t dropped_ = 0;
};

}  // namespace brig
