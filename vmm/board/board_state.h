// The board's state machine (after Alioth's board.rs). The first event that ends the
// run wins; everything after it is ignored, so two vCPUs that stop at once, or a
// SIGTERM racing a power-off, cannot flip the outcome.
//
//   Paused --Start--> Running --PowerOff/Fail--> Shutdown
//                      |  ^  \--Reset--> RebootPending
//               Suspend|  |Resume
//                      v  |
//                   Suspended --PowerOff/Fail--> Shutdown, --Reset--> RebootPending
//
//   RebootPending --Reboot--> Running: --on-reboot restart, once the machine is reset
//   (Board::reboot); without it RebootPending ends the run like Shutdown (exit 32).
//
// Suspended is `brig suspend` (or --suspended before the first resume): every vCPU
// parked and every device paused. Suspend is refused unless Running, Resume unless
// Suspended (suspend_refusal()).
#pragma once

#include <string>

#include "vmm/board/stop_reason.h"

namespace brig {

enum class BoardState { Paused, Running, Suspended, Shutdown, RebootPending };
enum class BoardEvent { Start, Suspend, Resume, PowerOff, Reset, Fail, Reboot };

BoardState board_transition(BoardState state, BoardEvent event);
BoardEvent board_event_for(StopKind kind);
const char* to_string(BoardState state);
// Why `event` (Suspend or Resume) cannot happen in `state`, for the operator: "the VM is
// already suspended"; empty when it can.
std::string suspend_refusal(BoardState state, BoardEvent event);

}  // namespace brig
