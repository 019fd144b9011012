// The main thread's loop once the guest runs: it waits for the board to stop, for a
// host signal (SIGTERM, SIGINT, SIGHUP), and for console input, then drives the
// coordinated stop and returns why the VM ended.
#pragma once

#include <csignal>

#include "board/stop_reason.h"
#include "vm.h"

namespace brig {

// Blocks the signals the supervisor takes through a signalfd. Call first in main(),
// before any thread exists, so every thread inherits the mask.
sigset_t block_supervisor_signals();

StopReason supervise(Vm& vm, const sigset_t& signals, bool forward_stdin);

}  // namespace brig
