#include "board/stop_reason.h"

namespace brig {

ExitCode exit_code_for(StopKind kind) {
    switch (kind) {
        case StopKind::GuestPowerOff:
        case StopKind::HostSignal:
            return ExitCode::GuestShutdown;
        case StopKind::GuestReset:
            return ExitCode::GuestReset;
        case StopKind::GuestPanic:
            return ExitCode::GuestPanic;
        case StopKind::DeviceCrash:
            return ExitCode::DeviceCrash;
        case StopKind::VcpuFailure:
        case StopKind::Internal:
            return ExitCode::Internal;
    }
    return ExitCode::Internal;
}

const char* to_string(StopKind kind) {
    switch (kind) {
        case StopKind::GuestPowerOff: return "guest powered off";
        case StopKind::GuestReset: return "guest reset";
        case StopKind::GuestPanic: return "guest panicked";
        case StopKind::VcpuFailure: return "vCPU failure";
        case StopKind::DeviceCrash: return "device crashed";
        case StopKind::HostSignal: return "stopped by signal";
        case StopKind::Internal: return "internal error";
    }
    return "unknown";
}

}  // namespace brig
