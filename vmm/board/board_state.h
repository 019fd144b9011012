// The board's state machine (after Alioth's board.rs). The first event that ends the
// run wins; everything after it is ignored, so two vCPUs that stop at once, or a
// SIGTERM racing a power-off, cannot flip the outcome.
//
//   Paused --Start--> Running --PowerOff/Fail--> Shutdown
//                         \--Reset--> RebootPending
#pragma once

#include "vmm/board/stop_reason.h"

namespace brig {

enum class BoardState { Paused, Running, Shutdown, RebootPending };
enum class BoardEvent { Start, PowerOff, Reset, Fail };

BoardState board_transition(BoardState state, BoardEvent event);
BoardEvent board_event_for(StopKind kind);
const char* to_string(BoardState state);

}  // namespace brig
