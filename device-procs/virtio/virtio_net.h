// virtio-net (virtio 1.2, 5.1) over a TAP fd brig opened with IFF_VNET_HDR and a
// 12-byte vnet header: receiveq (0) and transmitq (1), no control queue, no MQ.
//
// Resource: "tap". Setting: "mac" (xx:xx:xx:xx:xx:xx; brig always sends one).
//
// The virtio-net header and the TAP's vnet header have the same layout, so a frame
// crosses with one copy (rx) or none (tx):
// - tx: every chain is checked (readable only, a header, at most a 64 KiB frame
//   plus its Ethernet header, a GSO/checksum request the negotiated features allow
//   and the frame agrees with), then written to the TAP with writev() from guest
//   memory, behind a copy of the header that was checked. Used entries are returned
//   and signalled once per batch.
// - rx: a frame is read from the TAP into one host buffer, then copied into as many
//   rx chains as it needs (one without MRG_RXBUF), with num_buffers set. When the
//   driver has posted too few buffers the frame waits there and the TAP is not read
//   again until the driver notifies receiveq: at most one frame is ever held.
// The TAP's offloads (TUNSETOFFLOAD) follow what the driver accepted, at DRIVER_OK.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "device-procs/common/device_logger.h"
#include "device-procs/virtio/virtio_service.h"
#include "ipc/mac_address.h"

namespace brig::devices {

class VirtioNet final : public HostedVirtioDevice {
public:
    static constexpr unsigned kReceiveQueue = 0;
    static constexpr unsigned kTransmitQueue = 1;

    // Feature bits (virtio 1.2, 5.1.3).
    static constexpr unsigned kFeatureCsum = 0;
    static constexpr unsigned kFeatureGuestCsum = 1;
    static constexpr unsigned kFeatureMac = 5;
    static constexpr unsigned kFeatureGuestTso4 = 7;
    static constexpr unsigned kFeatureGuestTso6 = 8;
    static constexpr unsigned kFeatureGuestUfo = 10;
    static constexpr unsigned kFeatureHostTso4 = 11;
    static constexpr unsigned kFeatureHostTso6 = 12;
    static constexpr unsigned kFeatureHostUfo = 14;
    static constexpr unsigned kFeatureMrgRxbuf = 15;
    static constexpr unsigned kFeatureStatus = 16;

    // struct virtio_net_hdr_v1 (5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
    // csum_offset, num_buffers; the same 12 bytes the TAP reads and writes.
    static constexpr size_t kHeaderSize = 12;
    static constexpr uint8_t kHeaderNeedsCsum = 1;
    static constexpr uint8_t kHeaderDataValid = 2;
    static constexpr uint8_t kGsoNone = 0;
    static constexpr uint8_t kGsoTcpV4 = 1;
    static constexpr uint8_t kGsoUdp = 3;
    static constexpr uint8_t kGsoTcpV6 = 4;
    static constexpr uint8_t kGsoEcn = 0x80;
    static constexpr size_t kEthernetHeader = 14;
    // A 64 KiB GSO packet behind its Ethernet header: the largest frame either way.
    static constexpr size_t kMaxFrame = 65536 + kEthernetHeader;
    static constexpr uint32_t kConfigSize = 8;  // mac[6], status u16
    static constexpr uint16_t kStatusLinkUp = 1;
    // Frames moved per queue run before the event thread looks at its other fds.
    static constexpr unsigned kRxBudget = 256;

    VirtioNet(base::UniqueFd tap, ipc::MacAddress mac, const std::string& device = "virtio-net");
    // Takes "tap"; `settings` must hold a valid unicast "mac".
    static std::unique_ptr<HostedVirtioDevice> create(const std::string& name, Resources& resources,
                                                      const Settings& settings);

    const ipc::DeviceKind& kind() const override { return ipc::kinds::kVirtioNet; }
    uint64_t device_features() const override;
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    void activate(uint64_t driver_features) override;
    void process_queue(unsigned queue, virtio::QueueContext& ctx) override;
    void reset() override;

    int input_fd() const override { return tap_.get(); }
    bool wants_input() const override { return !rx_pending_ && !tap_broken_; }
    void pull_input() override {}  // receive() reads the TAP itself, on the kick that follows
    unsigned input_queue() const override { return kReceiveQueue; }
    void flush() override;  // logs the frame counters

    struct Counters {
        uint64_t rx_frames = 0, rx_dropped = 0, tx_frames = 0, tx_dropped = 0;
    };
    const Counters& counters() const { return counters_; }

private:
    void transmit(virtio::QueueContext& ctx);
    void receive(virtio::QueueContext& ctx);
    // Reads one frame into rx_frame_; false when the TAP has none (or is broken).
    bool read_frame();
    // Copies the held frame into rx chains; false when the driver posted too few.
    bool deliver_frame(virtio::UsedBatch& batch, const virtio::GuestMemoryView& memory);
    // The TAP's header of the frame just read: nothing the driver did not negotiate.
    bool rx_header_acceptable();
    bool negotiated(unsigned bit) const { return (driver_features_ >> bit) & 1; }

    DeviceLogger log_;
    base::UniqueFd tap_;
    ipc::MacAddress mac_;
    uint64_t driver_features_ = 0;
    std::vector<uint8_t> rx_frame_;                   // header + frame, as the TAP gave it
    size_t rx_length_ = 0;                            // bytes of rx_frame_ in use
    bool rx_pending_ = false;                         // rx_frame_ holds a frame no chain took yet
    std::vector<virtio::DescriptorChain> rx_chains_;  // popped for the held frame, not yet used
    std::atomic<bool> tap_broken_ = false;
    Counters counters_;
};

}  // namespace brig::devices
