// virtio-rng, the entropy device (virtio 1.2, 5.4): one request queue whose writable
// buffers are filled from getrandom(), at most kMaxBytesPerChain per chain.
#pragma once

#include "device-procs/virtio/virtio_service.h"

namespace brig::devices {

class VirtioRng final : public HostedVirtioDevice {
public:
    static constexpr uint32_t kMaxBytesPerChain = 64 * 1024;

    static std::unique_ptr<HostedVirtioDevice> create(const std::string& name, Resources& resources);

    const ipc::DeviceKind& kind() const override { return ipc::kinds::kVirtioRng; }
    uint64_t device_features() const override { return 0; }
    uint32_t config_size() const override { return 0; }
    void read_config(uint32_t, std::span<uint8_t> data) override;
    void process_queue(unsigned queue, virtio::QueueContext& ctx) override;
};

}  // namespace brig::devices
