#include "vmm/board/board_state.h"

namespace brig {

BoardState board_transition(BoardState state, BoardEvent event) {
    switch (state) {
        case BoardState::Paused:
            if (event == BoardEvent::Start) return BoardState::Running;
            // A failure before the guest ever ran still ends the board.
            return event == BoardEvent::Reset ? BoardState::RebootPending : BoardState::Shutdown;
        case BoardState::Running:
            switch (event) {
                case BoardEvent::Start:
                    return BoardState::Running;
                case BoardEvent::Reset:
                    return BoardState::RebootPending;
                case BoardEvent::PowerOff:
                case BoardEvent::Fail:
                    return BoardState::Shutdown;
            }
            break;
        case BoardState::Shutdown:
        case BoardState::RebootPending:
            return state;
    }
    return state;
}

BoardEvent board_event_for(StopKind kind) {
    switch (kind) {
        case StopKind::GuestPowerOff:
        case StopKind::HostSignal:
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
        case BoardState::Shutdown:
            return "Shutdown";
        case BoardState::RebootPending:
            return "RebootPending";
    }
    return "?";
}

}  // namespace brig
