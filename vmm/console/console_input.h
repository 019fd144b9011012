// What the operator types, relayed to the guest's console by the supervisor: stdin is
// read only while it may be (ConsoleTerminal::readable), brig's escapes are taken out on
// a terminal, and the rest goes to the console's input (the pipe the console device
// reads, jailed or in-process), kept as a backlog while the guest does not take it. A
// pipe or file on stdin waits for the backlog to drain; a terminal is read on
// regardless, so Ctrl-A x works while a guest ignores its console, and keys beyond
// kMaxTypedBacklog are dropped, as a UART drops them on overrun.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "vmm/console/console_escape.h"
#include "vmm/console/terminal.h"

namespace brig {

class ConsoleInput {
public:
    using Sink = std::function<size_t(std::span<const uint8_t>)>;  // returns how many bytes it took
    static constexpr size_t kMaxTypedBacklog = 4096;

    // A console device's input pipe (non-blocking): full means "later"; a device that
    // closed it is gone, and the supervisor learns that from its pidfd.
    static Sink pipe_sink(int fd);

    ConsoleInput(Sink sink, ConsoleTerminal& terminal) : sink_(std::move(sink)), terminal_(terminal) {}
    bool wants_read() const { return open_ && terminal_.readable() && (terminal_.is_terminal() || pending_.empty()); }
    bool backlogged() const { return !pending_.empty(); }

    // Reads what stdin has; returns true when the operator typed Ctrl-A x.
    bool read_stdin();
    // Offers the backlog to the console again.
    void flush();

private:
    Sink sink_;
    ConsoleTerminal& terminal_;
    ConsoleEscape escape_;
    std::vector<uint8_t> pending_;
    bool open_ = true;
};

}  // namespace brig
