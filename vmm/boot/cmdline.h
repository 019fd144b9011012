// The kernel command line, NUL-terminated at layout::kCmdline.
#pragma once

#include <cstdint>
#include <string>

#include "vmm/memory/guest_memory.h"

namespace brig::boot {

// Writes `cmdline` and its terminating NUL at layout::kCmdline. `max_length` is the longest
// command line (without the NUL) the kernel accepts; the space at kCmdline bounds it too.
// Returns the guest address of the command line.
uint64_t write_cmdline(const GuestMemory& mem, const std::string& cmdline, uint64_t max_length);

}  // namespace brig::boot
