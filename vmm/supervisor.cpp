#include "vmm/supervisor.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <vector>

#include "base/error.h"
#include "base/eventfd.h"
#include "vmm/console/console_input.h"
#include "vmm/console/terminal.h"
#include "ipc/poll_set.h"
#include "ipc/device_contract.h"
#include "vmm/builder.h"
#include "vmm/control/event_log.h"
#include "vmm/error.h"
#include "vmm/sandbox/vmm_sigsys.h"

namespace brig {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRetryInputMs = 10;
constexpr std::chrono::milliseconds kDeviceShutdownTimeout(1000);
constexpr std::chrono::milliseconds kDeviceExitTimeout(1000);
constexpr std::chrono::milliseconds kConsoleDrainTimeout(2000);

base::UniqueFd open_signalfd(const sigset_t& signals) {
    base::UniqueFd fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) base::throw_errno("signalfd");
    return fd;
}

void on_host_signal(Vm& vm, int sigfd, ConsoleTerminal* terminal) {
    signalfd_siginfo info{};
    if (::read(sigfd, &info, sizeof info) != sizeof info) return;
    if (info.ssi_signo == SIGCONT) {  // continued, perhaps by `fg`: the terminal may be brig's now
        if (terminal) terminal->refresh();
        return;
    }
    const char* abbrev = sigabbrev_np(static_cast<int>(info.ssi_signo));
    const std::string name = std::string("SIG") + (abbrev ? abbrev : "?");
    vm.board.request_stop({StopKind::HostSignal, "stopped by " + name, "signal=" + name});
}

// What an fd in the supervisor's wait set is; `index` names the device.
struct Waiting {
    enum Kind {
        Stop,
        HostSignal,
        Violation,
        DeviceLog,
        DeviceExit,
        ConsoleOutput,
        SyslogOutput,
        Stdout,
        Stdin,
        Control
    } kind;
    size_t index = 0;
};

void emit(Vm& vm, std::string_view type, const std::string& fields = {}) {
    if (control::EventLog* events = vm.events) events->append(type, fields);
}

void on_device_exit(Vm& vm, AttachedDevice& device) {
    const std::string& how = device.process->reap();
    emit(vm, "device-crashed",
         fmt::format(",\"device\":{},\"pid\":{},\"reason\":{}", control::json_string(device.process->name()),
                     device.process->pid(), control::json_string(how)));
    vm.board.request_stop(
        {StopKind::DeviceCrash, fmt::format("{} (pid {}) {}", device.process->name(), device.process->pid(), how),
         fmt::format("{} pid={} {}", device.process->name(), device.process->pid(), device.process->failure_fields())});
    // Only now wake a vCPU waiting on it: its "device is gone" must not win the race
    // against the real cause of death recorded above.
    device.proxy->mark_peer_dead();
}

// A device that owes an access and has slept on it for kDeviceAnswerLimit (not one that
// waits for a CPU: stall_watch.h) is hung: the VM stops with DEVICE_CRASHED, and the
// vCPU waiting for it is woken, after the cause is recorded.
void check_device_stalls(Vm& vm) {
    const auto now = StallWatch::Clock::now();
    for (auto& device : vm.devices) {
        if (!device.process || !device.proxy || device.process->reaped()) continue;
        if (!device.stall.observe(now, device.proxy->owes_answer(), device.process->activity())) continue;
        const DeviceProcess& process = *device.process;
        vm.board.request_stop(
            {StopKind::DeviceCrash,
             fmt::format("{} (pid {}): mailbox: the device did not answer an access within {} ms, asleep all along",
                         process.name(), process.pid(), device.stall.limit().count()),
             fmt::format("{} pid={} reason=bad-reply", process.name(), process.pid())});
        device.proxy->mark_peer_dead();
    }
}

// Every device still alive is asked to flush and stop, then given a deadline to exit.
void stop_devices(Vm& vm) {
    for (auto& device : vm.devices) {
        if (device.in_process) device.in_process->shutdown();
        if (!device.process || device.process->reaped()) continue;
        try {
            device.process->control().shutdown(kDeviceShutdownTimeout);
        } catch (const std::exception& e) {
            spdlog::warn("[{}] shutdown: {}", device.process->name(), e.what());
        }
    }
    for (auto& device : vm.devices)
        if (device.process) device.process->wait_or_kill(kDeviceExitTimeout);
}

// brig suspend / resume: the devices stop taking requests after what they have in
// flight (and flushing), and go on; jailed ones through their control path.
void pause_devices(Vm& vm, bool pause) {
    for (auto& device : vm.devices) {
        if (device.in_process) pause ? device.in_process->pause() : device.in_process->resume();
        if (!device.process || device.process->reaped()) continue;
        try {
            if (pause)
                device.process->control().pause(kDeviceShutdownTimeout);
            else
                device.process->control().resume(kDeviceShutdownTimeout);
        } catch (const std::exception& e) {
            spdlog::warn("[{}] {}: {}", device.process->name(), pause ? "pause" : "resume", e.what());
        }
    }
}

// --on-reboot restart: the board resets the vCPUs; the machine around them is reset
// here, as a reset line reaches it: the interrupt controllers and timer, every device
// through its control path, then the boot images in guest memory (whose RAM is kept).
// A device is reset rather than respawned: once the guest has run, brig's threads are
// under filters that cannot create namespaces or exec, and a device the guest took
// over serves only that same guest, across its reboots too.
void reset_machine(Vm& vm) {
    vm.reboot->platform.restore(vm.vm_fd);
    for (auto& device : vm.devices) {
        if (device.in_process) device.in_process->reset();
        if (!device.process || device.process->reaped()) continue;
        try {
            device.process->control().reset(kDeviceShutdownTimeout);
        } catch (const std::exception& e) {
            const std::string& name = device.process->name();
            throw DeviceCrashed(fmt::format("{} (pid {}) did not reset: {}", name, device.process->pid(), e.what()),
                                fmt::format("{} pid={} reason=reset-failed", name, device.process->pid()));
        }
    }
    reload_boot_images(vm);
}

// A guest reset that --on-reboot restart allows: nothing once the guest runs again,
// else why the VM stops instead.
std::optional<StopReason> reboot_in_place(Vm& vm) {
    const auto begun = Clock::now();
    try {
        const std::string refusal = vm.board.reboot([&vm] { reset_machine(vm); });
        if (!refusal.empty()) return StopReason{StopKind::Internal, "reboot in place: " + refusal};
    } catch (const DeviceCrashed& e) {
        return StopReason{StopKind::DeviceCrash, e.what(), e.record_fields()};
    } catch (const std::exception& e) {
        return StopReason{StopKind::Internal, std::string("reboot in place: ") + e.what()};
    }
    RebootPlan& plan = *vm.reboot;
    ++plan.done;
    spdlog::info("[board] rebooted in place in {} us ({} of at most {})",
                 std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begun).count(), plan.done,
                 plan.limit);
    return std::nullopt;
}

const char* state_name(BoardState state) {
    switch (state) {
        case BoardState::Paused:
            return "starting";
        case BoardState::Running:
            return "running";
        case BoardState::Suspended:
            return "paused";
        case BoardState::Shutdown:
        case BoardState::RebootPending:
            return "stopping";
    }
    return "stopping";
}

// A device's counters for brig status: notifies and interrupts as the device itself
// publishes them (its mailbox shadows; a device the guest took over may write any
// number there, and brig acts on none), bytes in and out as the kernel counts them.
// null where there is no such count (in brig's own process, or reaped).
std::string device_counters_json(const AttachedDevice& device) {
    auto number = [](std::optional<uint64_t> value) { return value ? std::to_string(*value) : std::string("null"); };
    std::optional<uint64_t> notifies, interrupts, in, out;
    if (device.proxy && device.process && !device.process->reaped()) {
        notifies = device.proxy->peek_shadow(ipc::device_contract::kNotifiesShadow);
        interrupts = device.proxy->peek_shadow(ipc::device_contract::kInterruptsShadow);
    }
    if (device.process)
        if (const auto io = device.process->io_counters()) {
            in = io->bytes_in;
            out = io->bytes_out;
        }
    return fmt::format("\"notifies\":{},\"interrupts\":{},\"bytes_in\":{},\"bytes_out\":{}", number(notifies),
                       number(interrupts), number(in), number(out));
}

std::string status_json(const Vm& vm, Clock::time_point started) {
    const BoardState state = vm.board.state();
    std::string devices;
    for (const auto& device : vm.devices) {
        const bool jailed = device.process != nullptr;
        const std::string name = jailed ? device.process->name() : std::string(device.in_process->name());
        const char* device_state = jailed && device.process->reaped() ? "exited"
                                   : state == BoardState::Suspended   ? "paused"
                                                                      : "running";
        devices += fmt::format(
            "{}{{\"name\":{},\"kind\":{},\"pid\":{},\"state\":\"{}\",{}}}", devices.empty() ? "" : ",",
            control::json_string(name), control::json_string(device.kind),
            jailed ? std::to_string(device.process->pid()) : "null", device_state, device_counters_json(device));
    }
    return fmt::format(
        "{{\"state\":\"{}\",\"uptime_ms\":{},\"vcpus\":{},\"memory_bytes\":{},\"vsock_cid\":{},\"reboots\":{},"
        "\"topology\":{{\"sockets\":{},\"cores\":{},\"threads\":{}}},\"devices\":[{}]}}",
        state_name(state), std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(),
        vm.board.vcpu_count(), vm.memory.size(), vm.vsock_cid ? std::to_string(*vm.vsock_cid) : "null",
        vm.reboot ? vm.reboot->done : 0, vm.topology.sockets, vm.topology.cores, vm.topology.threads, devices);
}

void serve_control(Vm& vm, control::ControlRequest& request, Clock::time_point started,
                   std::optional<Clock::time_point>& boot_deadline, const SupervisorOptions& options) {
    using Kind = control::ControlRequest::Kind;
    switch (request.kind) {
        case Kind::Stop:
            vm.board.request_stop({StopKind::ControlStop, "stopped by brig stop on the control socket"});
            request.answer("");
            return;
        case Kind::Suspend: {
            const auto begun = Clock::now();
            if (auto refusal = vm.board.suspend(); !refusal.empty()) return request.refuse(refusal);
            pause_devices(vm, true);
            emit(vm, "paused");
            spdlog::info("[control] suspended in {} us",
                         std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begun).count());
            request.answer("");
            return;
        }
        case Kind::Resume: {
            const auto begun = Clock::now();
            const std::string refusal = suspend_refusal(vm.board.state(), BoardEvent::Resume);
            if (!refusal.empty()) return request.refuse(refusal);
            pause_devices(vm, false);  // the devices first: a vCPU's first access finds them serving
            if (auto late = vm.board.resume(); !late.empty()) return request.refuse(late);
            if (options.boot_timeout_seconds && !boot_deadline)  // --suspended: it counts from here
                boot_deadline = Clock::now() + std::chrono::seconds(*options.boot_timeout_seconds);
            emit(vm, "resumed");
            spdlog::info("[control] resumed in {} us",
                         std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begun).count());
            request.answer("");
            return;
        }
        case Kind::Status:
            request.answer(status_json(vm, started));
            return;
        case Kind::PowerButton:
            if (vm.board.state() != BoardState::Running) return request.refuse("the VM is not running");
            if (!base::signal_eventfd(vm.power_button.get())) return request.refuse("the interrupt did not go out");
            emit(vm, "power-button");
            request.answer("");
            return;
    }
}

void install_vmm_filters(Vm& vm) {
    if (!vm.thread_filters) return;
    vm.ipc->run_on_thread([&] { install_thread_filter("ipc", vm.thread_filters->ipc); });
    install_thread_filter("main", vm.thread_filters->main);
}

}  // namespace

sigset_t block_supervisor_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCONT}) sigaddset(&set, sig);
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) base::throw_errno("pthread_sigmask");
    // Not for the signalfd: only the thread that touches the terminal takes these (see
    // console/terminal.h); in every other thread, and the devices, they stay blocked.
    sigset_t job_control;
    sigemptyset(&job_control);
    for (int sig : {SIGTTOU, SIGTTIN}) sigaddset(&job_control, sig);
    if (pthread_sigmask(SIG_BLOCK, &job_control, nullptr) != 0) base::throw_errno("pthread_sigmask");
    signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an EPIPE, not a death
    return set;
}

StopReason supervise(Vm& vm, const sigset_t& signals, const SupervisorOptions& options) {
    base::UniqueFd sigfd = open_signalfd(signals);
    std::optional<ConsoleTerminal> terminal;
    std::optional<ConsoleInput> input;
    if (options.forward_stdin || options.console_reads_stdin) {
        terminal.emplace();
        if (vm.console_input) input.emplace(ConsoleInput::pipe_sink(vm.console_input.get()), *terminal);
    }
    // What the boot deadline waits for: the guest's first console byte, or its "ready".
    const std::atomic<bool>& booted = options.ready_port ? vm.guest_ready : vm.guest_alive;
    std::optional<Clock::time_point> boot_deadline;
    if (options.boot_timeout_seconds && !options.suspended)
        boot_deadline = Clock::now() + std::chrono::seconds(*options.boot_timeout_seconds);
    const Clock::time_point started = Clock::now();

    // Every thread of brig is under its seccomp filter before the guest's first
    // instruction: the vCPU threads install theirs as they start, the IPC and main
    // threads between that and the vCPUs' resume (each vCPU checks it: builder.cpp).
    vm.board.start([&vm] { install_vmm_filters(vm); }, options.suspended);
    emit(vm, "started", options.suspended ? ",\"suspended\":true" : "");

    ipc::PollSet<Waiting> waits;
    // Each pass is one boot; a guest reset that --on-reboot restart allows starts the next.
    std::optional<StopReason> outcome;
    for (;;) {
        while (!vm.board.stop_reason()) {
            waits.clear();
            waits.add(vm.board.stop_fd(), POLLIN, {Waiting::Stop});
            waits.add(sigfd.get(), POLLIN, {Waiting::HostSignal});
            if (options.control) waits.add(options.control->wake_fd(), POLLIN, {Waiting::Control});
            for (size_t i = 0; i < vm.devices.size(); ++i) {
                if (!vm.devices[i].process) continue;  // in-process: nothing to watch
                const DeviceProcess& process = *vm.devices[i].process;
                // -1 when there is none (no listener in --seccomp=log|learn; reaped): skipped.
                waits.add(process.violation_fd(), POLLIN, {Waiting::Violation, i});
                waits.add(process.log_fd(), POLLIN, {Waiting::DeviceLog, i});
                waits.add(process.pidfd(), POLLIN, {Waiting::DeviceExit, i});
            }
            bool relay_backlog = false;
            for (size_t i = 0; i < vm.devices.size(); ++i) {
                const OutputRelay* relay = vm.devices[i].owned.console_relay.get();
                if (!relay) continue;
                if (relay->has_room()) waits.add(relay->read_fd(), POLLIN, {Waiting::ConsoleOutput, i});
                relay_backlog |= relay->backlogged();
            }
            for (size_t i = 0; i < vm.devices.size(); ++i)
                if (const SyslogLines* lines = vm.devices[i].owned.syslog_lines.get())
                    waits.add(lines->read_fd(), POLLIN, {Waiting::SyslogOutput, i});
            const bool output_held = terminal && terminal->holds_output();
            if (relay_backlog && !output_held) waits.add(STDOUT_FILENO, POLLOUT, {Waiting::Stdout});
            if (input && input->wants_read()) waits.add(STDIN_FILENO, POLLIN, {Waiting::Stdin});

            int timeout = input && input->backlogged() ? kRetryInputMs : -1;
            const int stall_ms = static_cast<int>(kStallCheckInterval.count());
            timeout = timeout < 0 ? stall_ms : std::min(timeout, stall_ms);
            const bool background = terminal && terminal->in_background();
            constexpr int kCheckMs = ConsoleTerminal::kForegroundCheckMs;
            if (background) timeout = timeout < 0 ? kCheckMs : std::min(timeout, kCheckMs);
            if (boot_deadline && !booted) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*boot_deadline - Clock::now());
                const int boot_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
                timeout = timeout < 0 ? boot_ms : std::min(timeout, boot_ms);
            }
            if (waits.wait(timeout) < 0) {
                if (errno == EINTR) continue;
                base::throw_errno("poll (supervisor)");
            }
            bool stdin_ready = false;
            for (const auto& [what, revents] : waits.ready()) {
                switch (what.kind) {
                    case Waiting::Stop:
                        break;  // the loop's condition sees it
                    case Waiting::HostSignal:
                        if (revents & POLLIN) on_host_signal(vm, sigfd.get(), terminal ? &*terminal : nullptr);
                        break;
                    case Waiting::Violation:
                        // Killed now; its pidfd reports the death next, with the syscall.
                        if (revents & POLLIN) vm.devices[what.index].process->take_violation();
                        break;
                    case Waiting::DeviceLog:
                        if (revents & POLLIN) vm.devices[what.index].process->drain_log();
                        break;
                    case Waiting::DeviceExit:
                        if ((revents & POLLIN) && !vm.devices[what.index].process->reaped())
                            on_device_exit(vm, vm.devices[what.index]);
                        break;
                    case Waiting::ConsoleOutput:
                        vm.devices[what.index].owned.console_relay->read_available();
                        break;
                    case Waiting::SyslogOutput:
                        vm.devices[what.index].owned.syslog_lines->read_available();
                        break;
                    case Waiting::Stdout:
                        for (auto& device : vm.devices)
                            if (device.owned.console_relay) device.owned.console_relay->write_some();
                        break;
                    case Waiting::Stdin:
                        stdin_ready = (revents & (POLLIN | POLLHUP | POLLERR)) != 0;
                        break;
                    case Waiting::Control:
                        for (auto& request : options.control->take())
                            serve_control(vm, request, started, boot_deadline, options);
                        break;
                }
            }
            check_device_stalls(vm);
            if (background) terminal->refresh();  // `fg` on a running job sends no signal
            if (input && input->backlogged()) input->flush();
            if (stdin_ready && input->read_stdin())
                vm.board.request_stop({StopKind::HostSignal, "stopped by Ctrl-A x on the console", "console=ctrl-a-x"});
            if (boot_deadline && !booted && Clock::now() >= *boot_deadline) {
                const std::string what = options.ready_port
                                             ? fmt::format("no connection to vsock port {}", *options.ready_port)
                                             : std::string("no console output");
                vm.board.request_stop(
                    {StopKind::Hangup,
                     fmt::format("{} within --boot-timeout {} s", what, *options.boot_timeout_seconds),
                     fmt::format("after={}s", *options.boot_timeout_seconds)});
            }
        }
        const StopReason why = *vm.board.stop_reason();
        if (why.kind != StopKind::GuestReset || !vm.reboot) break;
        const bool again = vm.reboot->done < vm.reboot->limit;
        emit(vm, "guest-reset",
             fmt::format(",\"detail\":{},\"action\":\"{}\",\"reboots\":{}", control::json_string(why.detail),
                         again ? "restart" : "exit", vm.reboot->done));
        if (!again) {
            outcome = StopReason{
                why.kind, fmt::format("{} after {} reboots in place (--max-reboots)", why.detail, vm.reboot->done),
                why.fields};
            break;
        }
        if ((outcome = reboot_in_place(vm))) break;
    }

    const StopReason why = outcome ? *outcome : *vm.board.stop_reason();
    if (why.kind == StopKind::GuestPanic) emit(vm, "guest-panic", ",\"detail\":" + control::json_string(why.detail));
    if (why.kind == StopKind::GuestReset && !vm.reboot)
        emit(vm, "guest-reset", ",\"detail\":" + control::json_string(why.detail));
    emit(vm, "stopping", ",\"reason\":" + control::json_string(why.detail));
    vm.board.wind_down();
    if (vm.vsock) vm.vsock->stop();  // no new host connections for devices that are stopping
    stop_devices(vm);
    // Everything the guest wrote before the stop reaches stdout, within a bound.
    // The terminal goes back as brig found it, and SIGTTOU is blocked again: so what the
    // guest wrote last is written now even from the background with TOSTOP, like brig's
    // own final line, rather than lost.
    input.reset();
    terminal.reset();
    for (auto& device : vm.devices) {
        if (device.owned.console_relay) device.owned.console_relay->finish(kConsoleDrainTimeout);
        if (device.owned.syslog_lines) device.owned.syslog_lines->finish();
    }
    return why;
}

}  // namespace brig
