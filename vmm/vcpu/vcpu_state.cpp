#include "vmm/vcpu/vcpu_state.h"

namespace brig {

VcpuTransition vcpu_transition(VcpuState state, VcpuEvent event) {
    if (state == VcpuState::Exited) return {VcpuState::Exited, VcpuResponse::NotAllowed};
    switch (event) {
        case VcpuEvent::Resume:
            return {VcpuState::Running, VcpuResponse::Resumed};
        case VcpuEvent::Pause:
            return {VcpuState::Paused, VcpuResponse::Paused};
        case VcpuEvent::Finish:
            return {VcpuState::Exited, VcpuResponse::Exited};
        case VcpuEvent::Reset:
            // Never under a running guest: the owner pauses every vCPU first.
            if (state == VcpuState::Paused) return {VcpuState::Paused, VcpuResponse::WasReset};
            return {state, VcpuResponse::NotAllowed};
    }
    return {state, VcpuResponse::NotAllowed};
}

const char* to_string(VcpuState state) {
    switch (state) {
        case VcpuState::Paused:
            return "Paused";
        case VcpuState::Running:
            return "Running";
        case VcpuState::Exited:
            return "Exited";
    }
    return "?";
}

const char* to_string(VcpuEvent event) {
    switch (event) {
        case VcpuEvent::Resume:
            return "Resume";
        case VcpuEvent::Pause:
            return "Pause";
        case VcpuEvent::Finish:
            return "Finish";
        case VcpuEvent::Reset:
            return "Reset";
    }
    return "?";
}

const char* to_string(VcpuResponse response) {
    switch (response) {
        case VcpuResponse::Resumed:
            return "Resumed";
        case VcpuResponse::Paused:
            return "Paused";
        case VcpuResponse::Exited:
            return "Exited";
        case VcpuResponse::WasReset:
            return "WasReset";
        case VcpuResponse::NotAllowed:
            return "NotAllowed";
    }
    return "?";
}

}  // namespace brig
