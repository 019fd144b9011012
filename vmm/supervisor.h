// The main thread's loop once the guest runs. It waits for the board to stop, for
// a host signal (SIGTERM, SIGINT, SIGHUP; SIGCONT only retakes the terminal), for a
// device process to die, for the boot watchdog, and for console input, which it relays
// to the console (console/: brig's escapes, the terminal in raw mode only while brig is
// in the foreground); then it drives the coordinated stop: vCPUs paused and finished, every device asked to flush and stop
// within a deadline, then killed, everything reaped. It returns why the VM ended.
#pragma once

#include <csignal>
#include <optional>

#include "vmm/board/stop_reason.h"
#include "vmm/control/control_server.h"
#include "vmm/vm.h"

namespace brig {

// Blocks the signals the supervisor takes through a signalfd. Call first in main(),
// before any thread exists, so every thread inherits the mask.
sigset_t block_supervisor_signals();

struct SupervisorOptions {
    bool forward_stdin = false;                    // the serial console reads stdin (relayed by the supervisor)
    bool console_reads_stdin = false;              // the virtio console reads stdin (relayed by the supervisor)
    std::optional<unsigned> boot_timeout_seconds;  // --boot-timeout
    // --ready-port: the boot deadline waits for the guest's vsock connection to this
    // port (Vm::guest_ready) instead of its first console byte.
    std::optional<uint32_t> ready_port;
    // --socket: requests from the control socket's thread, answered here; and where
    // the VM's events go (brig events).
    control::ControlServer* control = nullptr;
    control::EventLog* events = nullptr;
    bool suspended = false;  // --suspended: no vCPU runs until brig resume
};

StopReason supervise(Vm& vm, const sigset_t& signals, const SupervisorOptions& options);

}  // namespace brig
