// Every device kind brig knows, described once. brig's builder, brig-device, the
// sandbox table (ipc/sandbox/profiles.h), `brig policy` and the in-process host all
// read a kind's facts from here: its name, virtio id and queue count, the resources
// activation hands it, the fd slot each takes in the jail, its policy file and the
// registers the VMM serves from a mailbox shadow.
//
// Adding a kind: one entry at the end of this file, one factory line in
// device-procs/device_registry.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/device_contract.h"
#include "ipc/virtio/virtio_device.h"
#include "ipc/virtio/virtio_mmio.h"

namespace brig::ipc {

// A resource at activation: an fd, under a name the device looks up.
struct ResourceSpec {
    static constexpr int kAnyFd = -1;

    std::string_view name;         // "disk"; a per-queue resource is named "queue0", "queue1", ...
    std::string_view description;  // what `brig policy show` lists
    bool required;
    // The fd number it is moved to inside the jail, where the device's policy pins
    // syscalls on it (virtio-blk's disk); kAnyFd: wherever it lands.
    int jail_fd = kAnyFd;
};

// One resource of one kind, with a per-queue resource expanded to "queue0", ...
struct ActivationResource {
    std::string name;
    std::string_view description;
    bool required;
    int jail_fd;
};

// The names both ends use.
namespace resource {
constexpr std::string_view kIrq = "irq";                   // the irqfd of the device's interrupt line
constexpr std::string_view kMailbox = "mailbox";           // the forwarding mailbox (memfd); none in-process
constexpr std::string_view kGuestMemory = "guest-memory";  // guest RAM (memfd), virtio devices only
constexpr std::string_view kQueuePrefix = "queue";         // "queue<N>": the ioeventfd of queue N
constexpr std::string_view kDisk = "disk";
constexpr std::string_view kOutput = "output";  // console output: a file or a pipe brig relays
constexpr std::string_view kInput = "input";    // console input: a pipe brig writes what is typed into
constexpr std::string_view kTap = "tap";        // a TAP fd brig opened (IFF_VNET_HDR), for virtio-net
std::string queue(unsigned index);
}  // namespace resource

// Activation also carries a few named values (text), for what an fd cannot say.
namespace setting {
constexpr std::string_view kMac = "mac";             // virtio-net: "xx:xx:xx:xx:xx:xx" (ipc/mac_address.h)
constexpr std::string_view kGuestCid = "guest-cid";  // virtio-vsock: the guest's CID, decimal (3 and up)
}  // namespace setting

// A register the VMM's proxy answers from a mailbox shadow the device keeps current,
// without a round trip to the device.
struct ShadowedRegister {
    uint64_t offset;  // in the device's window
    unsigned shadow;  // the mailbox shadow index
};

struct DeviceKind {
    std::string_view name;  // "virtio-blk": the argv KIND, the sandbox context, the policy name
    std::string_view description;
    uint32_t virtio_id;  // virtio 1.2, 5; 0 for a device that is not virtio
    unsigned queue_count;
    std::span<const ResourceSpec> own_resources;  // beyond the ones every kind (or every virtio kind) gets
    std::span<const ShadowedRegister> shadows;
    // fds it receives after activation and may hold at once (virtio-vsock's host
    // connections): its jail's RLIMIT_NOFILE makes room for them.
    unsigned later_fds = 0;

    bool is_virtio() const { return virtio_id != 0; }
    // "virtio-blk" -> "virtio_blk_device.policy"
    std::string policy_file() const;
    // Every resource activation hands this kind, the common ones first, queues expanded.
    std::vector<ActivationResource> resources() const;
};

// --- The kinds. A new one: its entry here and its pointer in kAll. ---
namespace kinds {
namespace detail {
// Every kind gets these.
inline constexpr ResourceSpec kCommon[] = {
    {resource::kIrq, "irqfd", true},
    {resource::kMailbox, "forwarding mailbox (memfd)", false},  // none when the device runs in brig's process
};
// Every virtio kind also gets these; the queue entry stands for one ioeventfd per queue.
inline constexpr ResourceSpec kVirtioCommon[] = {
    {resource::kGuestMemory, "guest memory (memfd)", true},
    {resource::kQueuePrefix, "one ioeventfd per queue", true},
};
// The virtio-mmio InterruptStatus register, which every virtio device publishes.
inline constexpr ShadowedRegister kVirtioShadows[] = {{virtio::kMmioInterruptStatus, virtio::kInterruptStatusShadow}};
inline constexpr ResourceSpec kConsoleResources[] = {
    {resource::kOutput, "console output fd", false},
    {resource::kInput, "console input fd", false},
};
// The UART's line status register (offset 5), which a guest polls before every byte.
inline constexpr ShadowedRegister kSerialShadows[] = {{5, device_contract::kSerialLineStatusShadow}};
inline constexpr ResourceSpec kBlkResources[] = {
    // Its policy pins every file syscall (pread64, pwrite64, fallocate, ...) to this fd.
    {resource::kDisk, "disk image fd (opened by brig)", true, device_contract::kDiskFd},
};
inline constexpr ResourceSpec kNetResources[] = {
    // Its policy pins the one ioctl it makes (TUNSETOFFLOAD) to this fd.
    {resource::kTap, "TAP fd (opened by brig, IFF_VNET_HDR)", true, device_contract::kTapFd},
};
}  // namespace detail

inline constexpr DeviceKind kSerial{
    .name = "serial",
    .description = "16550A UART (COM1)",
    .virtio_id = 0,
    .queue_count = 0,
    .own_resources = detail::kConsoleResources,
    .shadows = detail::kSerialShadows,
};
inline constexpr DeviceKind kVirtioBlk{
    .name = "virtio-blk",
    .description = "virtio block device (--disk)",
    .virtio_id = virtio::kDeviceIdBlock,
    .queue_count = 1,
    .own_resources = detail::kBlkResources,
    .shadows = detail::kVirtioShadows,
};
inline constexpr DeviceKind kVirtioRng{
    .name = "virtio-rng",
    .description = "virtio entropy device (--rng)",
    .virtio_id = virtio::kDeviceIdEntropy,
    .queue_count = 1,
    .own_resources = {},
    .shadows = detail::kVirtioShadows,
};
inline constexpr DeviceKind kVirtioConsole{
    .name = "virtio-console",
    .description = "virtio console, hvc0 (--console)",
    .virtio_id = virtio::kDeviceIdConsole,
    .queue_count = 2,  // receiveq, transmitq (no MULTIPORT)
    .own_resources = detail::kConsoleResources,
    .shadows = detail::kVirtioShadows,
};

inline constexpr DeviceKind kVirtioNet{
    .name = "virtio-net",
    .description = "virtio network device on a TAP (--net)",
    .virtio_id = virtio::kDeviceIdNet,
    .queue_count = 2,  // receiveq, transmitq (no control queue, no MQ)
    .own_resources = detail::kNetResources,
    .shadows = detail::kVirtioShadows,
};

// Its host side is brig's unix-socket broker (vmm/vsock/): connected sockets arrive
// over the control connection (Device.hostConnection), never as activation resources.
inline constexpr DeviceKind kVirtioVsock{
    .name = "virtio-vsock",
    .description = "virtio socket device, host side on unix sockets (--vsock)",
    .virtio_id = virtio::kDeviceIdVsock,
    .queue_count = 3,  // rx, tx, event
    .own_resources = {},
    .shadows = detail::kVirtioShadows,
    .later_fds = device_contract::kVsockMaxConnections,
};

inline constexpr const DeviceKind* kAll[] = {&kSerial,        &kVirtioBlk, &kVirtioRng,
                                             &kVirtioConsole, &kVirtioNet, &kVirtioVsock};
}  // namespace kinds

inline std::span<const DeviceKind* const> device_kinds() { return kinds::kAll; }
// nullptr for an unknown name.
const DeviceKind* find_device_kind(std::string_view name);
// Throws std::out_of_range for an unknown name.
const DeviceKind& device_kind(std::string_view name);

}  // namespace brig::ipc
