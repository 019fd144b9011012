// virtio-console (virtio 1.2, 5.3) without MULTIPORT: one port, receiveq (0) and
// transmitq (1).
//
// Resources: "output" (optional; absent: output is discarded) and "input" (optional).
// transmitq: every readable buffer goes to output through a BufferedOutput, so a
// stalled reader never holds up the queue (bytes beyond its bound are dropped). Input: the service's event
// thread watches "input" while nothing is pending, pull_input() reads what is there
// and receiveq hands it to the driver; bytes that find no buffer wait for the next
// receiveq notify (and input is not read meanwhile).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "device-procs/common/buffered_output.h"
#include "base/unique_fd.h"
#include "device-procs/virtio/virtio_service.h"

namespace brig::devices {

class VirtioConsole final : public HostedVirtioDevice {
public:
    static constexpr unsigned kReceiveQueue = 0;
    static constexpr unsigned kTransmitQueue = 1;
    static constexpr uint32_t kConfigSize = 12;  // cols u16, rows u16, max_nr_ports u32, emerg_wr u32
    static constexpr size_t kInputChunk = 4096;

    // `device` names it in logs.
    VirtioConsole(base::UniqueFd output, base::UniqueFd input, const std::string& device = "virtio-console");
    // Takes "output" and "input", both optional.
    static std::unique_ptr<HostedVirtioDevice> create(const std::string& name, Resources& resources);

    const ipc::DeviceKind& kind() const override { return ipc::kinds::kVirtioConsole; }
    uint64_t device_features() const override { return 0; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    void process_queue(unsigned queue, virtio::QueueContext& ctx) override;

    int input_fd() const override;
    bool wants_input() const override;
    void pull_input() override;
    unsigned input_queue() const override { return kReceiveQueue; }
    void flush() override;

private:
    void transmit(virtio::QueueContext& ctx);
    void receive(virtio::QueueContext& ctx);
    void write_output(const uint8_t* data, size_t len);

    DeviceLogger log_;
    base::UniqueFd output_;
    std::unique_ptr<BufferedOutput> output_buffer_;  // after output_: it writes there
    base::UniqueFd input_;
    mutable std::mutex mutex_;
    std::vector<uint8_t> pending_;  // input read from the host, not yet in a guest buffer
    bool input_open_ = false;       // guarded by mutex_, like pending_
};

}  // namespace brig::devices
