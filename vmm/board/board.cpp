#include "vmm/board/board.h"

#include <spdlog/spdlog.h>

#include "base/eventfd.h"

namespace brig {
namespace {
constexpr std::chrono::milliseconds kVcpuResponseTimeout(2000);
}

Board::Board() : stop_fd_(base::make_eventfd("board stop")) {}

void Board::add_vcpu(std::unique_ptr<Vcpu> vcpu) { vcpus_.push_back(std::move(vcpu)); }

Vcpu::StopHandler Board::stop_handler() {
    return [this](StopReason reason) { request_stop(std::move(reason)); };
}

void Board::start(const std::function<void()>& before_resume, bool suspended) {
    {
        std::lock_guard lock(mutex_);
        const BoardState want = suspended ? BoardState::Suspended : BoardState::Running;
        state_ = board_transition(state_, suspended ? BoardEvent::Suspend : BoardEvent::Start);
        if (state_ != want) return;
    }
    for (auto& vcpu : vcpus_) vcpu->start();
    if (before_resume) before_resume();
    if (suspended) return;
    resume_vcpus();
}

void Board::resume_vcpus() {
    for (auto& vcpu : vcpus_) {
        const auto response = vcpu->send(VcpuEvent::Resume, kVcpuResponseTimeout);
        if (response != VcpuResponse::Resumed)
            request_stop({StopKind::Internal, "vCPU " + std::to_string(vcpu->index()) + " did not resume"});
    }
}

std::string Board::suspend() {
    {
        std::lock_guard lock(mutex_);
        if (auto refusal = suspend_refusal(state_, BoardEvent::Suspend); !refusal.empty()) return refusal;
        state_ = board_transition(state_, BoardEvent::Suspend);
    }
    for (auto& vcpu : vcpus_) {
        const auto response = vcpu->send(VcpuEvent::Pause, kVcpuResponseTimeout);
        if (response != VcpuResponse::Paused)
            request_stop({StopKind::Internal, "vCPU " + std::to_string(vcpu->index()) + " did not pause"});
    }
    return "";
}

std::string Board::resume() {
    {
        std::lock_guard lock(mutex_);
        if (auto refusal = suspend_refusal(state_, BoardEvent::Resume); !refusal.empty()) return refusal;
        state_ = board_transition(state_, BoardEvent::Resume);
    }
    resume_vcpus();
    return "";
}

std::string Board::reboot(const std::function<void()>& reset_machine) {
    {
        std::lock_guard lock(mutex_);
        if (state_ != BoardState::RebootPending) return std::string("the board is ") + to_string(state_);
    }
    // The vCPU that saw the reset is parked already; the others are stopped where they are.
    for (auto& vcpu : vcpus_)
        if (vcpu->send(VcpuEvent::Pause, kVcpuResponseTimeout) != VcpuResponse::Paused)
            return "vCPU " + std::to_string(vcpu->index()) + " did not pause";
    for (auto& vcpu : vcpus_)
        if (vcpu->send(VcpuEvent::Reset, kVcpuResponseTimeout) != VcpuResponse::WasReset)
            return "vCPU " + std::to_string(vcpu->index()) + " could not be reset to its boot state";
    reset_machine();
    {
        std::lock_guard lock(mutex_);
        state_ = board_transition(state_, BoardEvent::Reboot);
        reason_.reset();
        base::drain_eventfd(stop_fd_.get());
    }
    resume_vcpus();
    return "";
}

void Board::request_stop(StopReason reason) {
    std::lock_guard lock(mutex_);
    const BoardState next = board_transition(state_, board_event_for(reason.kind));
    if (reason_) {
        spdlog::debug("[board] already stopping ({}); also: {}", to_string(reason_->kind), reason.detail);
        return;
    }
    spdlog::debug("[board] {} -> {}: {}", to_string(state_), to_string(next), reason.detail);
    state_ = next;
    reason_ = std::move(reason);
    if (!base::signal_eventfd(stop_fd_.get())) spdlog::error("[board] cannot signal stop");
}

BoardState Board::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

std::optional<StopReason> Board::stop_reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
}

void Board::wind_down() {
    // Pause everyone first so no vCPU touches a device while the others are finishing.
    for (auto& vcpu : vcpus_) {
        if (!vcpu->send(VcpuEvent::Pause, kVcpuResponseTimeout))
            spdlog::error("[board] vCPU {} did not pause within {} ms", vcpu->index(), kVcpuResponseTimeout.count());
    }
    for (auto& vcpu : vcpus_) {
        vcpu->send(VcpuEvent::Finish, kVcpuResponseTimeout);
        if (!vcpu->join()) spdlog::error("[board] vCPU {} did not exit", vcpu->index());
    }
}

}  // namespace brig
