// The vCPU thread's state machine (after Firecracker's vcpu.rs): the thread is always
// in exactly one state, and only an event from its owner moves it.
//
//   Paused --Resume--> Running --Pause--> Paused
//    |  ^ \                  |
//  Reset   \--Finish--> Exited <--Finish--/
//
// Reset (a reboot in place) puts the boot state back and is taken only while Paused.
#pragma once

namespace brig {

enum class VcpuState { Paused, Running, Exited };
enum class VcpuEvent { Resume, Pause, Finish, Reset };
enum class VcpuResponse { Resumed, Paused, Exited, WasReset, NotAllowed };

struct VcpuTransition {
    VcpuState next;
    VcpuResponse response;
};

VcpuTransition vcpu_transition(VcpuState state, VcpuEvent event);

const char* to_string(VcpuState state);
const char* to_string(VcpuEvent event);
const char* to_string(VcpuResponse response);

}  // namespace brig
