// The console's escapes, typed on the operator's terminal and kept from the guest
// (QEMU's, on brig's only prefix): Ctrl-A x stops the VM, Ctrl-A Ctrl-A sends one
// Ctrl-A. Ctrl-A before any other byte is not an escape: both bytes go to the guest.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace brig {

class ConsoleEscape {
public:
    static constexpr uint8_t kPrefix = 0x01;  // Ctrl-A
    static constexpr uint8_t kQuit = 'x';

    enum class Action { None, Quit };

    // Appends the bytes meant for the guest to `to_guest`. On Quit, the bytes after
    // the escape are dropped: brig is stopping.
    Action feed(std::span<const uint8_t> typed, std::vector<uint8_t>& to_guest);

private:
    bool after_prefix_ = false;  // a Ctrl-A was the last byte of the previous read
};

}  // namespace brig
