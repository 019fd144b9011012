// One vCPU and the thread that runs it. The owner drives it only through events
// (vcpu_state.h); the thread answers each with a response. A vCPU whose guest stops
// the run (power off, reset, failure) reports it once through `on_stop` and parks
// itself in Paused until it is told to Finish.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "vmm/board/stop_reason.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/reset_state.h"
#include "vmm/vcpu/vcpu_exit.h"
#include "vmm/vcpu/vcpu_state.h"

namespace brig {

class Vcpu {
public:
    using StopHandler = std::function<void(StopReason)>;

    // `on_thread_start` runs first on the new thread (it installs the vCPU seccomp filter);
    // `before_first_run` runs on it once, just before the first KVM_RUN (it checks that
    // the rest of brig is locked down). Either one throwing stops the VM, guest unrun.
    // `reset_state` (--on-reboot restart): what VcpuEvent::Reset writes back; without
    // it a Reset is refused.
    Vcpu(VcpuFd fd, VcpuExitContext ctx, StopHandler on_stop, std::function<void()> on_thread_start = {},
         std::function<void()> before_first_run = {}, std::optional<VcpuResetState> reset_state = {});
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    // Installs the process-wide kick signal handler; call once before any start().
    static void install_kick_handler();
    // The realtime signal that kicks a vCPU thread out of KVM_RUN (brig_main.policy allows it).
    static int kick_signal();

    void start();
    // Delivers `event`, kicks the thread out of KVM_RUN, and waits for its response.
    // Nothing on timeout: the thread is stuck and the caller must not join it.
    std::optional<VcpuResponse> send(VcpuEvent event, std::chrono::milliseconds timeout);
    // Joins the thread once it has exited; returns false if it never got there.
    bool join();

    const VcpuFd& fd() const { return fd_; }
    unsigned index() const { return fd_.index(); }

private:
    void thread_main();
    VcpuState paused();
    VcpuState running();
    bool apply_pending_event(VcpuState& state);  // true if one was applied
    VcpuResponse reset_to_boot_state();          // on this vCPU's thread, paused
    void kick();

    VcpuFd fd_;
    VcpuExitContext ctx_;
    StopHandler on_stop_;
    std::function<void()> on_thread_start_;
    std::function<void()> before_first_run_;  // cleared once it has run
    std::optional<VcpuResetState> reset_state_;

    std::mutex mutex_;
    std::condition_variable events_cv_;
    std::condition_variable responses_cv_;
    std::deque<VcpuEvent> events_;
    std::atomic<bool> events_pending_{false};  // events_ is non-empty; read without the lock
    std::deque<VcpuResponse> responses_;
    bool exited_ = false;

    std::thread thread_;
    pthread_t native_ = {};
};

}  // namespace brig
