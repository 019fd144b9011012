// A device running in its own jailed brig-device process, seen from the VMM: how it
// was started, how to talk to it, and, once it is gone, why it died.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/device_control.h"
#include "vmm/devices/device_log.h"
#include "vmm/sandbox/device_cgroup.h"
#include "base/unique_fd.h"
#include "vmm/devices/stall_watch.h"

namespace brig {

struct DeviceProcessConfig {
    std::string kind;  // "serial"
    std::string name;  // "serial", "virtio-blk0"
    std::filesystem::path executable;
    std::vector<sock_filter> filter;  // the device's compiled seccomp policy
    uint32_t jail_uid;
    uint32_t jail_gid;
    // `filter` answers what it refuses with SECCOMP_RET_USER_NOTIF; the device installs
    // it with NEW_LISTENER and sends the listener over its report socket before it
    // serves, and spawn() waits for it and checks it. Unset (--seccomp=kill): the
    // DeviceProcess keeps the listener and kills the device on a violation. Set
    // (--seccomp=log|learn): the listener is handed here with the device's pid, and the
    // callee must answer every notification.
    std::function<void(pid_t pid, base::UniqueFd listener)> on_seccomp_listener;
    // --cgroup-parent: the device's own cgroup, joined before it executes; removed
    // once it is reaped.
    std::shared_ptr<DeviceCgroup> cgroup;
    // virtio-vsock: the device asks brig for host connections (vmm/vsock/vsock_broker.h).
    ipc::IpcThread::HostConnectHandler on_connect_host;
};

// The hand-over of a device's seccomp listener over its report socket (SOCK_SEQPACKET,
// O_NONBLOCK), the one thing brig ever reads there: one message, exactly
// device_contract::kListenerTag, exactly one fd, and that fd a seccomp notification
// listener. Anything else (no fd, two, the wrong text, another kind of fd, a message
// too long, the socket closed, nothing within `timeout`) is refused; every fd that came
// along is closed either way. Exactly one of the two members is set. Throws only on a
// host error (poll, recvmsg), naming `device`.
struct ListenerHandover {
    base::UniqueFd listener;
    std::string refusal;  // "sent something other than its seccomp listener"
};
// `timeout` is how long the device may sleep without sending it; with `activity`
// (what its threads do), a device that runs or waits for a CPU gets up to a minute.
ListenerHandover receive_listener_handover(int report_fd, const std::string& device, std::chrono::milliseconds timeout,
                                           const std::function<std::optional<ProcessActivity>()>& activity = {});

class DeviceProcess {
public:
    static std::unique_ptr<DeviceProcess> spawn(const DeviceProcessConfig& config, ipc::IpcThread& ipc,
                                                ipc::IpcThread::ErrorReportHandler on_report);
    ~DeviceProcess();  // kills and reaps the process if it is still there

    const std::string& name() const { return name_; }
    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    ipc::DeviceControl& control() const { return *control_; }
    bool reaped() const { return exit_description_.has_value(); }

    // Reaps the exited process (pidfd readable) and returns how it ended, e.g.
    // "stopped by brig for a seccomp violation: blocked syscall openat(0x..., ...)" or
    // "exited with status 1".
    const std::string& reap();
    // Short machine-readable form for --failure-file: "signal=SIGSYS syscall=openat".
    const std::string& failure_fields() const { return failure_fields_; }
    // Readable (POLLIN) when the device made a syscall its policy refuses; -1 when
    // brig's seccomp notifier serves the device instead (--seccomp=log|learn).
    int violation_fd() const { return violation_listener_.get(); }
    // The device's stderr pipe: drain_log() when it is readable.
    int log_fd() const { return log_ ? log_->fd() : -1; }
    void drain_log() {
        if (log_) log_->drain();
    }
    // Reads the refused syscall from the kernel, kills the device, and keeps the syscall
    // for reap(). False when there was none waiting.
    bool take_violation();
    // Bytes the device moved through read and write calls of every kind (disk, TAP,
    // sockets, pipes), as the kernel counts them (/proc/PID/io rchar and wchar, opened
    // at spawn): for brig status, and not the device's own account. None once it is
    // reaped, or where the kernel keeps no such count.
    struct IoCounters {
        uint64_t bytes_in;
        uint64_t bytes_out;
    };
    std::optional<IoCounters> io_counters() const;
    // Opens /proc/PID/task/TID/stat of every thread the device has now; called once it
    // is activated (its threads started), before brig's filters (brig_main.policy
    // opens nothing). activity() then reads them with pread: what the supervisor's
    // hang check needs (stall_watch.h). None before, once reaped, or unreadable.
    void watch_threads();
    std::optional<ProcessActivity> activity() const;
    // Waits up to `timeout` for the process to exit after a shutdown; SIGKILL after.
    void wait_or_kill(std::chrono::milliseconds timeout);

    // Why brig killed it, set from the IPC thread when it broke the control path.
    struct Verdict;

private:
    DeviceProcess() = default;

    base::UniqueFd receive_seccomp_listener(std::chrono::milliseconds timeout);

    std::string name_;
    pid_t pid_ = -1;
    base::UniqueFd pidfd_;
    base::UniqueFd proc_io_;                    // /proc/PID/io, read with pread (brig_main.policy opens nothing)
    std::vector<base::UniqueFd> thread_stats_;  // /proc/PID/task/TID/stat, from watch_threads()
    base::UniqueFd report_read_;                // our end of the report socket, until the listener came
    // Kill mode: the listener of the device's seccomp filter, whose default action is
    // SECCOMP_RET_USER_NOTIF. A refused syscall waits there until brig reads it and
    // kills the device, so the device can neither hide nor forge a violation.
    base::UniqueFd violation_listener_;
    std::optional<DeviceLog> log_;
    std::optional<std::string> violation_;  // "blocked syscall openat(...)"
    std::string violation_fields_;          // "reason=seccomp syscall=openat"
    std::shared_ptr<Verdict> verdict_;
    std::shared_ptr<ipc::DeviceControl> control_;
    std::optional<std::string> exit_description_;
    std::string failure_fields_;
    std::shared_ptr<DeviceCgroup> cgroup_;
};

}  // namespace brig
