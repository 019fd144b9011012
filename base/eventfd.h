// eventfd(2) as a wake-up counter: one to create it, one to signal it, one to drain it.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/unique_fd.h"

namespace base {

// A new eventfd, counter 0, close-on-exec and non-blocking. Throws SystemError
// "eventfd(purpose): ...".
UniqueFd make_eventfd(std::string_view purpose);

// Adds 1 to the counter. False if the write failed (errno tells why; EAGAIN means the
// counter is at its maximum, so a reader wakes anyway). Async-signal-safe.
bool signal_eventfd(int fd) noexcept;

// Reads and resets the counter: how many signals it had collected, 0 if none (or if
// the read failed). Async-signal-safe.
uint64_t drain_eventfd(int fd) noexcept;

}  // namespace base
