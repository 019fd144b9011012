// Owns the vCPUs as a group: starts them together and, when any one of them (or a
// device, or a signal) ends the run, stops all the others so no thread is left
// running or waiting forever.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "vmm/board/board_state.h"
#include "vmm/board/stop_reason.h"
#include "base/unique_fd.h"
#include "vmm/vcpu/vcpu.h"

namespace brig {

class Board {
public:
    Board();

    // The vCPUs must be added before start(); their stop handler is request_stop.
    void add_vcpu(std::unique_ptr<Vcpu> vcpu);
    Vcpu::StopHandler stop_handler();

    // Starts every vCPU thread (each installs its own filter and waits, paused), then
    // runs `before_resume` (the supervisor puts the main and IPC threads under their
    // filters there), and only then lets the vCPUs enter the guest.
    // `suspended` (--suspended): the vCPUs are started and wait, parked, for resume().
    void start(const std::function<void()>& before_resume = {}, bool suspended = false);
    // brig suspend / resume, on the supervisor's thread: every vCPU to Paused, or back
    // to Running, through its state machine (the devices are the caller's). Returns
    // why not (suspend_refusal()), or "" once done.
    std::string suspend();
    std::string resume();
    // A reboot in place (--on-reboot restart), on the supervisor's thread, once a guest
    // reset has left the board in RebootPending: every vCPU paused and reset to its boot
    // state (VcpuEvent::Reset), then `reset_machine` (the devices, the irqchip, the boot
    // images; it may throw), then the stop is forgotten and every vCPU runs again from
    // the boot entry. Returns why not, or "" once running.
    std::string reboot(const std::function<void()>& reset_machine);
    // Any thread. The first request decides the outcome; later ones are logged only.
    void request_stop(StopReason reason);
    // Readable once a stop was requested: the supervisor polls it.
    int stop_fd() const { return stop_fd_.get(); }
    BoardState state() const;
    size_t vcpu_count() const { return vcpus_.size(); }
    std::optional<StopReason> stop_reason() const;

    // Pauses, then finishes and joins every vCPU. Safe to call more than once.
    void wind_down();

private:
    void resume_vcpus();

    mutable std::mutex mutex_;
    BoardState state_ = BoardState::Paused;
    std::optional<StopReason> reason_;
    base::UniqueFd stop_fd_;
    std::vector<std::unique_ptr<Vcpu>> vcpus_;
};

}  // namespace brig
