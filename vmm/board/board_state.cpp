#include "vmm/board/board_state.h"

namespace brig {

BoardState board_transition(BoardState state, BoardEvent event) {
    switch (state) {
        case BoardState::Paused:
            if (event == BoardEvent::Start) return BoardState::Running;
            if (event == BoardEvent::Reboot) return state;
            if (event == BoardEvent::Suspend) return BoardState::Suspended;  // --suspended
            if (event == BoardEvent::Resume) return state;
            // A failure before the guest ever ran still ends the board.
            return event == BoardEvent::Reset ? BoardState::RebootPending : BoardState::Shutdown;
        case BoardState::Suspended:
            if (event == BoardEvent::Resume) return BoardState::Running;
            if (event == BoardEvent::Start || event == BoardEvent::Suspend || event == BoardEvent::Reboot) return state;
            return event == BoardEvent::Reset ? BoardState::RebootPending : BoardState::Shutdown;
        case BoardState::Running:
            switch (event) {
                case BoardEvent::Start:
                case BoardEvent::Resume:
                case BoardEvent::Reboot:
                    return BoardState::Running;
                case BoardEvent::Suspend:
                    return BoardState::Suspended;
                case BoardEvent::Reset:
                    return BoardState::RebootPending;
                case BoardEvent::PowerOff:
                case BoardEvent::Fail:
                    return BoardState::Shutdown;
            }
            break;
        case BoardState::RebootPending:
            return event == BoardEvent::Reboot ? BoardState::Running : state;
        case BoardState::Shutdown:
            return state;
    }
    return state;
}

std::string suspend_refusal(BoardState state, BoardEvent event) {
    if (event == BoardEvent::Suspend && state == BoardState::Suspended) return "the VM is already suspended";
    if (event == BoardEvent::Resume && state == BoardState::Running) return "the VM is running, not suspended";
    if (state == BoardState::Shutdown || state == BoardState::RebootPending) return "the VM is stopping";
    if (state == BoardState::Paused) return "the VM has not started yet";
    return "";
}

BoardEvent board_event_for(StopKind kind) {
    switch (kind) {
        case StopKind::GuestPowerOff:
        case StopKind::HostSignal:
        case StopKind::ControlStop:
            return BoardEvent::PowerOff;
        case StopKind::GuestReset:
            return BoardEvent::Reset;
        default:
            return BoardEvent::Fail;
    }
}

const char* to_string(BoardState state) {
    switch (state) {
        case BoardState::Paused:
            return "Paused";
        case BoardState::Running:
            return "Running";
        case BoardState::Suspended:
            return "Suspended";
        case BoardState::Shutdown:
            return "Shutdown";
        case BoardState::RebootPending:
            return "RebootPending";
    }
    return "?";
}

}  // namespace brig
