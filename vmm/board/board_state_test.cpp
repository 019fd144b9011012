#include "vmm/board/board_state.h"

#include <catch2/catch.hpp>

using namespace brig;

TEST_CASE("board starts, then the first stop event decides the outcome", "[board]") {
    auto s = board_transition(BoardState::Paused, BoardEvent::Start);
    CHECK(s == BoardState::Running);
    CHECK(board_transition(s, BoardEvent::PowerOff) == BoardState::Shutdown);
    CHECK(board_transition(s, BoardEvent::Reset) == BoardState::RebootPending);
    CHECK(board_transition(s, BoardEvent::Fail) == BoardState::Shutdown);
    CHECK(board_transition(BoardState::RebootPending, BoardEvent::PowerOff) == BoardState::RebootPending);
    CHECK(board_transition(BoardState::Shutdown, BoardEvent::Reset) == BoardState::Shutdown);
    CHECK(board_transition(BoardState::Shutdown, BoardEvent::Start) == BoardState::Shutdown);
}

TEST_CASE("a failure before start still shuts the board down", "[board]") {
    CHECK(board_transition(BoardState::Paused, BoardEvent::Fail) == BoardState::Shutdown);
}

TEST_CASE("stop kinds map to crosvm exit codes and board events", "[board]") {
    CHECK(exit_code_for(StopKind::GuestPowerOff) == ExitCode::GuestShutdown);
    CHECK(exit_code_for(StopKind::GuestReset) == ExitCode::GuestReset);
    CHECK(exit_code_for(StopKind::DeviceCrash) == ExitCode::DeviceCrash);
    CHECK(exit_code_for(StopKind::GuestPanic) == ExitCode::GuestPanic);
    CHECK(exit_code_for(StopKind::VcpuFailure) == ExitCode::Internal);
    CHECK(board_event_for(StopKind::GuestReset) == BoardEvent::Reset);
    CHECK(board_event_for(StopKind::DeviceCrash) == BoardEvent::Fail);
    CHECK(board_event_for(StopKind::HostSignal) == BoardEvent::PowerOff);
}

TEST_CASE("failure records are one machine-readable line", "[board]") {
    CHECK(failure_record({StopKind::GuestPowerOff, "guest powered off via acpi"}) == "SHUTDOWN");
    CHECK(failure_record({StopKind::GuestReset, "triple fault"}) == "REBOOT");
    CHECK(failure_record({StopKind::Hangup, "no output", "after=5s"}) == "HANGUP after=5s");
    CHECK(failure_record({StopKind::DeviceCrash, "x", "serial pid=7 signal=SIGSYS syscall=openat"}) ==
          "DEVICE_CRASHED serial pid=7 signal=SIGSYS syscall=openat");
    CHECK(exit_code_for(StopKind::Hangup) == ExitCode::Hangup);
}

TEST_CASE("board suspends only while running and resumes only while suspended", "[board]") {
    CHECK(board_transition(BoardState::Running, BoardEvent::Suspend) == BoardState::Suspended);
    CHECK(board_transition(BoardState::Suspended, BoardEvent::Resume) == BoardState::Running);
    CHECK(board_transition(BoardState::Paused, BoardEvent::Suspend) == BoardState::Suspended);  // --suspended
    CHECK(board_transition(BoardState::Suspended, BoardEvent::PowerOff) == BoardState::Shutdown);
    CHECK(board_transition(BoardState::Suspended, BoardEvent::Reset) == BoardState::RebootPending);
    CHECK(board_transition(BoardState::Shutdown, BoardEvent::Resume) == BoardState::Shutdown);
    CHECK(suspend_refusal(BoardState::Running, BoardEvent::Suspend).empty());
    CHECK(suspend_refusal(BoardState::Suspended, BoardEvent::Resume).empty());
    CHECK(suspend_refusal(BoardState::Suspended, BoardEvent::Suspend) == "the VM is already suspended");
    CHECK(suspend_refusal(BoardState::Running, BoardEvent::Resume) == "the VM is running, not suspended");
    CHECK(suspend_refusal(BoardState::Shutdown, BoardEvent::Suspend) == "the VM is stopping");
}

TEST_CASE("brig stop is a clean shutdown", "[board]") {
    CHECK(exit_code_for(StopKind::ControlStop) == ExitCode::GuestShutdown);
    CHECK(failure_record({StopKind::ControlStop, "stopped by brig stop"}) == "SHUTDOWN");
    CHECK(board_event_for(StopKind::ControlStop) == BoardEvent::PowerOff);
}

TEST_CASE("only a pending reboot is rebooted, and it runs again", "[board]") {
    CHECK(board_transition(BoardState::RebootPending, BoardEvent::Reboot) == BoardState::Running);
    CHECK(board_transition(BoardState::Shutdown, BoardEvent::Reboot) == BoardState::Shutdown);
    CHECK(board_transition(BoardState::Paused, BoardEvent::Reboot) == BoardState::Paused);
    CHECK(board_transition(BoardState::Suspended, BoardEvent::Reboot) == BoardState::Suspended);
    CHECK(board_transition(BoardState::Running, BoardEvent::Reboot) == BoardState::Running);
    // Rebooted, a second reset is a reset again: the loop is the supervisor's to bound.
    CHECK(board_transition(board_transition(BoardState::RebootPending, BoardEvent::Reboot), BoardEvent::Reset) ==
          BoardState::RebootPending);
}
