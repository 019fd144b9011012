#include "vmm/vcpu/vcpu_state.h"

#include <catch2/catch.hpp>

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
