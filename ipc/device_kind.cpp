#include "ipc/device_kind.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "ipc/device_contract.h"
#include "ipc/virtio/virtio_device.h"
#include "ipc/virtio/virtio_mmio.h"

namespace brig::ipc {
namespace {

// Every kind gets these.
constexpr ResourceSpec kCommon[] = {
    {resource::kIrq, "irqfd", true},
    {resource::kMailbox, "forwarding mailbox (memfd)", false},  // absent when the device runs in brig's process
};
// Every virtio kind also gets these; the queue entry stands for one ioeventfd per queue.
constexpr ResourceSpec kVirtioCommon[] = {
    {resource::kGuestMemory, "guest memory (memfd)", true},
    {resource::kQueuePrefix, "one ioeventfd per queue", true},
};
// The virtio-mmio InterruptStatus register, which every virtio device publishes.
constexpr ShadowedRegister kVirtioShadows[] = {{virtio::kMmioInterruptStatus, virtio::kInterruptStatusShadow}};

constexpr ResourceSpec kConsoleResources[] = {
    {resource::kOutput, "console output fd", false},
    {resource::kInput, "console input fd", false},
};
// The UART's line status register (offset 5), which the guest polls before every byte.
constexpr uint64_t kUartLineStatusRegister = 5;
constexpr ShadowedRegister kSerialShadows[] = {
    {kUartLineStatusRegister, device_contract::kSerialLineStatusShadow}};

constexpr ResourceSpec kBlkResources[] = {
    // Its policy pins every file syscall (pread64, pwrite64, fallocate, ...) to this fd.
    {resource::kDisk, "disk image fd (opened by brig)", true, device_contract::kDiskFd},
};

}  // namespace

std::string resource::queue(unsigned index) { return std::string(kQueuePrefix) + std::to_string(index); }

namespace kinds {
const DeviceKind kSerial{"serial", "16550A UART (COM1)", 0, 0, kConsoleResources, kSerialShadows};
const DeviceKind kVirtioBlk{"virtio-blk", "virtio block device (--disk)", virtio::kDeviceIdBlock, 1, kBlkResources, kVirtioShadows};
const DeviceKind kVirtioRng{"virtio-rng", "virtio entropy device (--rng)", virtio::kDeviceIdEntropy, 1, {}, kVirtioShadows};
const DeviceKind kVirtioConsole{"virtio-console", "virtio console, hvc0 (--console)", virtio::kDeviceIdConsole, 2, kConsoleResources,
                                kVirtioShadows};
}  // namespace kinds

namespace {
constexpr std::array<const DeviceKind*, 4> kAll = {&kinds::kSerial, &kinds::kVirtioBlk, &kinds::kVirtioRng,
                                                   &kinds::kVirtioConsole};
}  // namespace

std::string DeviceKind::policy_file() const {
    std::string file(name);
    std::replace(file.begin(), file.end(), '-', '_');
    return file + "_device.policy";
}

std::vector<ActivationResource> DeviceKind::resources() const {
    std::vector<ActivationResource> all;
    auto add = [&all, this](std::span<const ResourceSpec> specs) {
        for (const auto& spec : specs) {
            if (spec.name != resource::kQueuePrefix) {
                all.push_back({std::string(spec.name), spec.description, spec.required, spec.jail_fd});
                continue;
            }
            for (unsigned q = 0; q < queue_count; ++q)
                all.push_back({resource::queue(q), spec.description, spec.required, spec.jail_fd});
        }
    };
    add(kCommon);
    if (is_virtio()) add(kVirtioCommon);
    add(own_resources);
    return all;
}

std::span<const DeviceKind* const> device_kinds() { return kAll; }

const DeviceKind* find_device_kind(std::string_view name) {
    for (const DeviceKind* kind : kAll)
        if (kind->name == name) return kind;
    return nullptr;
}

const DeviceKind& device_kind(std::string_view name) {
    if (const DeviceKind* kind = find_device_kind(name)) return *kind;
    throw std::out_of_range("unknown device kind '" + std::string(name) + "'");
}

}  // namespace brig::ipc
