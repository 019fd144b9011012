#include "vmm/board/stop_reason.h"

namespace brig {

ExitCode exit_code_for(StopKind kind) {
    switch (kind) {
        case StopKind::GuestPowerOff:
        case StopKind::HostSignal:
        case StopKind::ControlStop:
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
        case StopKind::GuestPowerOff:
            return "guest powered off";
        case StopKind::GuestReset:
            return "guest reset";
        case StopKind::GuestPanic:
            return "guest panicked";
        case StopKind::VcpuFailure:
            return "vCPU failure";
        case StopKind::DeviceCrash:
            return "device crashed";
        case StopKind::HostSignal:
            return "stopped by signal";
        case StopKind::ControlStop:
            return "stopped by brig stop";
        case StopKind::Hangup:
            return "guest hung";
        case StopKind::Internal:
            return "internal error";
    }
    return "unknown";
}

const char* record_keyword(StopKind kind) {
    switch (kind) {
        case StopKind::GuestPowerOff:
        case StopKind::ControlStop:
            return "SHUTDOWN";
        case StopKind::GuestReset:
            return "REBOOT";
        case StopKind::GuestPanic:
            return "GUEST_PANIC";
        case StopKind::VcpuFailure:
            return "VCPU_FAILURE";
        case StopKind::DeviceCrash:
            return "DEVICE_CRASHED";
        case StopKind::HostSignal:
            return "KILLED";
        case StopKind::Hangup:
            return "HANGUP";
        case StopKind::Internal:
            return "INTERNAL_ERROR";
    }
    return "INTERNAL_ERROR";
}

std::string failure_record(const StopReason& reason) {
    const char* keyword = record_keyword(reason.kind);
    return reason.fields.empty() ? keyword : std::string(keyword) + " " + reason.fields;
}

}  // namespace brig
