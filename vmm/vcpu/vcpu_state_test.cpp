#include "vmm/vcpu/vcpu_state.h"

#include <catch2/catch.hpp>
#include <string>

using namespace brig;

TEST_CASE("vCPU state machine follows Paused -> Running -> Exited", "[vcpu]") {
    CHECK(vcpu_transition(VcpuState::Paused, VcpuEvent::Resume).next == VcpuState::Running);
    CHECK(vcpu_transition(VcpuState::Paused, VcpuEvent::Resume).response == VcpuResponse::Resumed);
    CHECK(vcpu_transition(VcpuState::Running, VcpuEvent::Pause).next == VcpuState::Paused);
    CHECK(vcpu_transition(VcpuState::Running, VcpuEvent::Pause).response == VcpuResponse::Paused);
    CHECK(vcpu_transition(VcpuState::Running, VcpuEvent::Finish).next == VcpuState::Exited);
    CHECK(vcpu_transition(VcpuState::Paused, VcpuEvent::Finish).response == VcpuResponse::Exited);
}

TEST_CASE("an exited vCPU refuses every event", "[vcpu]") {
    for (auto event : {VcpuEvent::Resume, VcpuEvent::Pause, VcpuEvent::Finish}) {
        const auto t = vcpu_transition(VcpuState::Exited, event);
        CHECK(t.next == VcpuState::Exited);
        CHECK(t.response == VcpuResponse::NotAllowed);
    }
}

TEST_CASE("repeating an event is idempotent", "[vcpu]") {
    CHECK(vcpu_transition(VcpuState::Running, VcpuEvent::Resume).next == VcpuState::Running);
    CHECK(vcpu_transition(VcpuState::Paused, VcpuEvent::Pause).next == VcpuState::Paused);
}

TEST_CASE("a vCPU is reset only while paused, and stays paused", "[vcpu]") {
    const auto paused = vcpu_transition(VcpuState::Paused, VcpuEvent::Reset);
    CHECK(paused.next == VcpuState::Paused);
    CHECK(paused.response == VcpuResponse::WasReset);
    const auto running = vcpu_transition(VcpuState::Running, VcpuEvent::Reset);
    CHECK(running.next == VcpuState::Running);
    CHECK(running.response == VcpuResponse::NotAllowed);
    CHECK(vcpu_transition(VcpuState::Exited, VcpuEvent::Reset).response == VcpuResponse::NotAllowed);
    CHECK(std::string(to_string(VcpuEvent::Reset)) == "Reset");
}
