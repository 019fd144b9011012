// The contract between brig and a brig-device process, in one place: what brig hands
// the child at exec and what the child may rely on. Both sides include this header;
// nothing here is written twice.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace brig::ipc {
struct DeviceKind;
// The named values activation carries besides the fds (device_kind.h: setting::).
using Settings = std::map<std::string, std::string>;
}  // namespace brig::ipc

namespace brig::ipc::device_contract {

// The fds a brig-device starts with (besides 0, 1 and 2, see device_process.cpp).
constexpr int kControlFd = 3;  // the control socket (Cap'n Proto, device.capnp)
constexpr int kFilterFd = 4;   // the compiled seccomp filter: read once, closed
constexpr int kReportFd = 5;   // SOCK_SEQPACKET: carries the seccomp listener once
// The payload of the one message on kReportFd; the listener rides along (SCM_RIGHTS).
constexpr std::string_view kListenerTag = "seccomp-listener";

// Where a virtio-blk device keeps its disk: virtio_blk_device.policy pins every file
// syscall (pread64, pwrite64, fallocate, ...) to this fd number.
constexpr int kDiskFd = 32;
// Where a virtio-net device keeps its TAP: virtio_net_device.policy pins TUNSETOFFLOAD
// to this fd number.
constexpr int kTapFd = 33;

// virtio-vsock: the most connections one VM's device holds at once (each a host
// socket fd in the jail, so its RLIMIT_NOFILE has room for them), and the most
// guest-to-host connects per second the device asks brig for. brig's broker refuses
// more, and its control budget counts on this figure.
constexpr unsigned kVsockMaxConnections = 256;
constexpr unsigned kHostConnectsPerSecond = 128;

// The serial device publishes its line status register in this mailbox shadow, and
// brig's proxy serves reads of it from there.
constexpr unsigned kSerialLineStatusShadow = 0;
// Every device publishes its own counters in these shadows as they change: queue
// notifies taken and interrupts raised. They are the device's account, shown as such
// by `brig status` and never acted on (a device the guest took over may write anything).
constexpr unsigned kNotifiesShadow = 6;
constexpr unsigned kInterruptsShadow = 7;

// argv: brig-device KIND NAME JAIL_UID JAIL_GID [LOG_LEVEL]
struct Arguments {
    std::string kind;
    std::string name;
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::string log_level = "warn";  // an spdlog level name
};
std::vector<std::string> to_argv(const Arguments& args);
// Throws std::runtime_error on a malformed argv.
Arguments parse_argv(int argc, const char* const* argv);

// Activation, inside the jail: refuses a resource the kind does not list and a
// missing required one, then moves each resource that has a jail fd slot to it (its
// policy pins syscalls to that number). Throws std::runtime_error.
void place_activation_resources(const DeviceKind& kind, std::map<std::string, base::UniqueFd>& resources);

}  // namespace brig::ipc::device_contract
