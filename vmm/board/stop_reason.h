// Why the VM stopped, and the exit status that tells the caller (crosvm's codes).
#pragma once

#include <string>

#include "error.h"

namespace brig {

enum class StopKind {
    GuestPowerOff,   // ACPI S5
    GuestReset,      // ACPI reset register, i8042, triple fault
    GuestPanic,      // reserved for pvpanic
    VcpuFailure,     // KVM could not run the guest (internal error, failed entry)
    DeviceCrash,     // a device died
    HostSignal,      // SIGTERM/SIGINT/SIGHUP to brig: a clean stop on request
    Internal,        // brig itself failed
};

struct StopReason {
    StopKind kind;
    std::string detail;  // one line for the user: what happened and where
};

ExitCode exit_code_for(StopKind kind);
const char* to_string(StopKind kind);

}  // namespace brig
