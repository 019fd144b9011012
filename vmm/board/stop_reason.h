// Why the VM stopped, and the exit status that tells the caller (crosvm's codes).
#pragma once

#include <string>

#include "vmm/error.h"

namespace brig {

enum class StopKind {
    GuestPowerOff,  // ACPI S5
    GuestReset,     // ACPI reset register, i8042, triple fault
    GuestPanic,     // reserved for pvpanic
    VcpuFailure,    // KVM could not run the guest (internal error, failed entry)
    DeviceCrash,    // a device died
    HostSignal,     // SIGTERM/SIGINT/SIGHUP to brig, or Ctrl-A x on its console: a clean stop on request
    ControlStop,    // `brig stop` on the control socket: a coordinated stop, recorded as SHUTDOWN
    Hangup,         // the guest showed no sign of life before --boot-timeout
    Internal,       // brig itself failed
};

struct StopReason {
    StopKind kind;
    std::string detail;  // one line for the user: what happened and where
    // Extra machine-readable fields for --failure-file, e.g. "serial pid=12 signal=SIGSYS syscall=openat".
    std::string fields = {};
};

// The record's first word: SHUTDOWN, REBOOT, KILLED, DEVICE_CRASHED, ...
const char* record_keyword(StopKind kind);

// The one line --failure-file holds: "SHUTDOWN", "REBOOT", "DEVICE_CRASHED serial pid=12 ...".
std::string failure_record(const StopReason& reason);

ExitCode exit_code_for(StopKind kind);
const char* to_string(StopKind kind);

}  // namespace brig
