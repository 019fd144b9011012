#include "vmm/vcpu/vcpu.h"

#include <signal.h>

#include <utility>

#include <spdlog/spdlog.h>

#include "base/error.h"

namespace brig {
namespace {

// The handler does nothing: its only job is to make KVM_RUN return EINTR.
void on_kick(int) {}

}  // namespace

int Vcpu::kick_signal() { return SIGRTMIN; }

Vcpu::Vcpu(VcpuFd fd, VcpuExitContext ctx, StopHandler on_stop, std::function<void()> on_thread_start,
           std::function<void()> before_first_run, std::optional<VcpuResetState> reset_state)
    : fd_(std::move(fd)),
      ctx_(ctx),
      on_stop_(std::move(on_stop)),
      on_thread_start_(std::move(on_thread_start)),
      before_first_run_(std::move(before_first_run)),
      reset_state_(std::move(reset_state)) {}

// Never frees a vCPU whose thread still runs: the thread uses this object, the buses
// and guest memory. Everything it can wait on is bounded (KVM_RUN is kicked, a device
// access fails fast once its device has failed), so the wait ends.
Vcpu::~Vcpu() {
    if (!thread_.joinable()) return;
    for (unsigned attempt = 0;; ++attempt) {
        {
            std::lock_guard lock(mutex_);
            if (exited_) break;
        }
        send(VcpuEvent::Finish, std::chrono::milliseconds(1000));
        if (attempt == 1) spdlog::warn("[vcpu{}] still running after 2 s of teardown; waiting for it", index());
    }
    thread_.join();
}

void Vcpu::install_kick_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    if (sigaction(kick_signal(), &sa, nullptr) != 0) base::throw_errno("sigaction(vCPU kick signal)");
}

void Vcpu::start() {
    thread_ = std::thread([this] { thread_main(); });
    native_ = thread_.native_handle();
    pthread_setname_np(native_, ("brig-vcpu" + std::to_string(index())).c_str());
}

std::optional<VcpuResponse> Vcpu::send(VcpuEvent event, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (exited_) return VcpuResponse::NotAllowed;
    events_.push_back(event);
    events_pending_.store(true, std::memory_order_release);
    events_cv_.notify_one();
    lock.unlock();
    kick();
    lock.lock();
    if (!responses_cv_.wait_for(lock, timeout, [this] { return !responses_.empty(); })) return std::nullopt;
    const VcpuResponse response = responses_.front();
    responses_.pop_front();
    return response;
}

bool Vcpu::join() {
    if (!thread_.joinable()) return true;
    {
        std::lock_guard lock(mutex_);
        if (!exited_) return false;
    }
    thread_.join();
    return true;
}

void Vcpu::kick() {
    // immediate_exit covers the window before the thread enters KVM_RUN; the signal
    // covers the time it spends inside.
    __atomic_store_n(&fd_.run_area()->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (native_) pthread_kill(native_, kick_signal());
}

bool Vcpu::apply_pending_event(VcpuState& state) {
    // Caller holds mutex_.
    if (events_.empty()) return false;
    const VcpuEvent event = events_.front();
    events_.pop_front();
    events_pending_.store(!events_.empty(), std::memory_order_release);
    VcpuTransition t = vcpu_transition(state, event);
    SPDLOG_DEBUG("[vcpu{}] {} + {} -> {}", index(), to_string(state), to_string(event), to_string(t.next));
    state = t.next;
    if (state == VcpuState::Exited) exited_ = true;
    if (t.response == VcpuResponse::WasReset) t.response = reset_to_boot_state();
    responses_.push_back(t.response);
    responses_cv_.notify_all();
    return true;
}

void Vcpu::thread_main() {
    VcpuState state = VcpuState::Paused;
    if (on_thread_start_) {
        try {
            on_thread_start_();
        } catch (const std::exception& e) {
            // Never run a guest without the thread's filter: report, and only accept Finish.
            on_stop_({StopKind::Internal, "vCPU " + std::to_string(index()) + ": " + e.what()});
            while (state != VcpuState::Exited) state = paused();
            return;
        }
    }
    while (state != VcpuState::Exited) state = state == VcpuState::Paused ? paused() : running();
}

VcpuResponse Vcpu::reset_to_boot_state() {
    if (!reset_state_) return VcpuResponse::NotAllowed;
    try {
        reset_state_->restore(fd_);
        return VcpuResponse::WasReset;
    } catch (const std::exception& e) {
        spdlog::error("[vcpu{}] reset: {}", index(), e.what());
        return VcpuResponse::NotAllowed;
    }
}

VcpuState Vcpu::paused() {
    std::unique_lock lock(mutex_);
    events_cv_.wait(lock, [this] { return !events_.empty(); });
    VcpuState state = VcpuState::Paused;
    apply_pending_event(state);
    return state;
}

VcpuState Vcpu::running() {
    for (;;) {
        // Checked on every exit: only take the lock when an event is waiting.
        if (events_pending_.load(std::memory_order_acquire)) {
            std::lock_guard lock(mutex_);
            VcpuState state = VcpuState::Running;
            if (apply_pending_event(state) && state != VcpuState::Running) {
                // Where the guest was when it was stopped from outside: the first clue to a hang.
                spdlog::debug("[vcpu{}] stopped at {}", index(), describe_guest_instruction(fd_, ctx_.memory));
                return state;
            }
        }
        std::optional<StopReason> stop;
        try {
            if (before_first_run_) std::exchange(before_first_run_, nullptr)();
            if (!fd_.run()) {
                __atomic_store_n(&fd_.run_area()->immediate_exit, 0, __ATOMIC_SEQ_CST);
                continue;
            }
            stop = handle_vcpu_exit(fd_, ctx_);
        } catch (const std::exception& e) {
            stop = StopReason{StopKind::Internal, "vCPU " + std::to_string(index()) + ": " + e.what()};
        }
        if (stop) {
            // Report once, then wait for the board to finish us: the other vCPUs may
            // still be running and must be stopped by whoever owns them.
            on_stop_(std::move(*stop));
            return VcpuState::Paused;
        }
    }
}

}  // namespace brig
