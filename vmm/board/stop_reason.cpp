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
        case StopKind::Hangup:
            return ExitCode::Hangup;
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
        case StopKind::Hangup: return "guest hung";
        case StopKind::Internal: return "internal error";
    }
    return "unknown";
}

std::string failure_record(const StopReason& reason) {
    const char* keyword = "INTERNAL_ERROR";
    switch (reason.kind) {
        case StopKind::GuestPowerOff: keyword = "SHUTDOWN"; break;
        case StopKind::GuestReset: keyword = "REBOOT"; break;
        case StopKind::GuestPanic: keyword = "GUEST_PANIC"; break;
        case StopKind::VcpuFailure: keyword = "VCPU_FAILURE"; break;
        case StopKind::DeviceCrash: keyword = "DEVICE_CRASHED"; break;
        case StopKind::HostSignal: keyword = "KILLED"; break;
        case StopKind::Hangup: keyword = "HANGUP"; break;
        case StopKind::Internal: keyword = "INTERNAL_ERROR"; break;
    }
    return reason.fields.empty() ? keyword : std::string(keyword) + " " + reason.fields;
}

}  // namespace brig
