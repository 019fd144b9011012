// virtio-vsock (virtio 1.2, 5.10) with its host side on unix sockets, as Firecracker's
// hybrid vsock: rx (0), tx (1) and event (2) queues, the stream type only.
//
// Setting: "guest-cid". Resources: none beyond the common ones. The device opens no
// socket and connects nothing: brig's broker (vmm/vsock/) listens on the VM's socket
// and connects PATH_<port>, and hands the device each connected socket over the
// control connection (DeviceService::host_connection):
// - a host program's CONNECT <port>: the device sends the guest a REQUEST and, once
//   the guest answers RESPONSE, writes "OK <host port>\n" on the socket; an RST
//   closes it;
// - the guest's REQUEST to host port P: the device asks brig (set_host_connector) and
//   answers RESPONSE when brig hands it the socket, RST when nothing listens.
//
// Packets are checked and routed by the Muxer (vsock_muxer.h), credit is kept per
// connection (vsock_connection.h). The device reads a host socket only while the
// guest has credit for it and no packet of that connection waits for an rx buffer, so
// a connection holds at most kDeviceBufAlloc guest bytes plus one packet. A tx chain
// that is not a packet (too short, device-writable, shorter than its len) is dropped
// and counted, not NEEDS_RESET: the guest may make its own driver misbehave, and the
// other connections go on. When packets for the guest pile up (it posts no receive
// buffers), the device stops taking from the transmit queue until it does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "device-procs/common/device_logger.h"
#include "device-procs/virtio/virtio_service.h"
#include "device-procs/virtio/vsock_muxer.h"

namespace brig::devices {

class VirtioVsock final : public HostedVirtioDevice {
public:
    static constexpr unsigned kRxQueue = 0;
    static constexpr unsigned kTxQueue = 1;
    static constexpr unsigned kEventQueue = 2;
    static constexpr uint32_t kConfigSize = 8;   // le64 guest_cid
    static constexpr uint64_t kMinGuestCid = 3;  // 0-2 are reserved (hypervisor, local, host)

    VirtioVsock(uint64_t guest_cid, const std::string& device = "virtio-vsock");
    // `settings` must hold "guest-cid", a decimal CID of at least 3.
    static std::unique_ptr<HostedVirtioDevice> create(const std::string& name, Resources& resources,
                                                      const Settings& settings);

    const ipc::DeviceKind& kind() const override { return ipc::kinds::kVirtioVsock; }
    uint64_t device_features() const override { return 0; }  // stream only: no SEQPACKET
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    void process_queue(unsigned queue, virtio::QueueContext& ctx) override;
    void reset() override;

    void watches(std::vector<Watch>& out) const override;
    void on_ready(int fd, short revents) override;
    unsigned input_queue() const override { return kRxQueue; }
    void host_connection(uint32_t guest_port, uint32_t host_port, base::UniqueFd fd) override;
    void set_host_connector(ipc::DeviceService::HostConnector connect) override { connect_ = std::move(connect); }
    void flush() override;  // logs the counters

    struct Counters {
        uint64_t tx_packets = 0, rx_packets = 0, dropped_chains = 0, host_bytes_in = 0, host_bytes_out = 0;
    };
    const Counters& counters() const { return counters_; }
    const vsock::Muxer& muxer() const { return muxer_; }
    size_t open_sockets() const { return sockets_.size(); }

private:
    using Key = vsock::Muxer::Key;
    void transmit(virtio::QueueContext& ctx);
    void transmit_one(const virtio::DescriptorChain& chain, const virtio::GuestMemoryView& memory);
    // Packets for the guest into rx chains, while there are both.
    void deliver(virtio::QueueContext& ctx);
    // Moves bytes between a connection and its socket as far as each side allows.
    void write_to_host(const Key& key, vsock::Connection& connection);
    void read_from_host(const Key& key, vsock::Connection& connection, short revents);
    // After anything changed: OK lines owed, half-closes, and closed connections' sockets.
    void settle();

    DeviceLogger log_;
    uint64_t guest_cid_;
    vsock::Muxer muxer_;
    ipc::DeviceService::HostConnector connect_;
    std::map<Key, base::UniqueFd> sockets_;  // the host side of each connection that has one
    std::map<int, Key> by_fd_;
    std::set<Key> owes_ok_;              // host-initiated, the OK line not yet written
    std::set<Key> host_write_shut_;      // shutdown(SHUT_WR) done
    std::vector<uint8_t> buffer_;        // one packet's payload either way
    std::optional<vsock::Packet> held_;  // taken from the muxer, waiting for an rx chain
    bool tx_stalled_ = false;            // the transmit queue waits for the guest to take packets
    Counters counters_;
};

}  // namespace brig::devices
