// Every device kind brig knows, described once. brig's builder, brig-device, the
// sandbox table (ipc/sandbox/profiles.h), `brig policy` and the in-process host all
// read a kind's facts from here: its name, virtio id and queue count, the resources
// activation hands it, the fd slot each takes in the jail, its policy file and the
// registers the VMM serves from a mailbox shadow.
//
// Adding a kind: one entry here, one factory line in device-procs/device_registry.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
std::string queue(unsigned index);
}  // namespace resource

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

    bool is_virtio() const { return virtio_id != 0; }
    // "virtio-blk" -> "virtio_blk_device.policy"
    std::string policy_file() const;
    // Every resource activation hands this kind, the common ones first, queues expanded.
    std::vector<ActivationResource> resources() const;
};

namespace kinds {
extern const DeviceKind kSerial;
extern const DeviceKind kVirtioBlk;
extern const DeviceKind kVirtioRng;
extern const DeviceKind kVirtioConsole;
}  // namespace kinds

std::span<const DeviceKind* const> device_kinds();
// nullptr for an unknown name.
const DeviceKind* find_device_kind(std::string_view name);
// Throws std::out_of_range for an unknown name.
const DeviceKind& device_kind(std::string_view name);

}  // namespace brig::ipc
