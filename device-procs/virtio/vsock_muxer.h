// virtio-vsock's connection table, device side: every packet the guest sends is
// checked and routed to its connection (vsock_connection.h), and what the guest must
// be told comes back out in order. No queue, no socket: the device moves packets
// between the rings and this table, and a HostPorts connects guest requests to the
// host (in brig, through the VMM's unix-socket broker).
//
// Hostile packets never reach a connection: a src_cid that is not the guest's, a
// dst_cid that is not the host's, a type other than stream, a len past kMaxPayload or
// past the bytes the chain holds, an op that does not exist, or any packet for a
// connection that does not exist is answered RST (never an RST to an RST) and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "device-procs/virtio/vsock_connection.h"
#include "ipc/device_contract.h"

namespace brig::devices::vsock {

// The most connections one VM may hold at once; a REQUEST past it is refused (RST).
constexpr size_t kMaxConnections = ipc::device_contract::kVsockMaxConnections;
// Packets waiting for a receive buffer, the table's replies and the connections'
// together: at this many the device takes no more from the transmit queue until the
// driver has taken some (virtio 1.2, 5.10.6.1), so a guest that floods requests or
// bad packets without posting receive buffers cannot grow the device. Each transmit
// packet adds at most one, and an RST past it is dropped and counted (never reached
// when the device checks backlogged() first).
constexpr size_t kMaxPendingReplies = 1024;

class Muxer {
public:
    // Asked when the guest connects to host port `port`: whether something listens
    // there (brig connects PATH_port for it). False: the guest gets RST.
    using HostPorts = std::function<bool(uint32_t host_port, uint32_t guest_port)>;
    // Or asked to connect it, with the answer to come (host_answered()): Pending, or
    // Refused at once.
    enum class HostAnswer { Refused, Accepted, Pending };
    using AsyncHostPorts = std::function<HostAnswer(uint32_t host_port, uint32_t guest_port)>;

    Muxer(uint64_t guest_cid, AsyncHostPorts host_ports) : guest_cid_(guest_cid), host_ports_(std::move(host_ports)) {}
    Muxer(uint64_t guest_cid, HostPorts host_ports)
        : Muxer(guest_cid, [ports = std::move(host_ports)](uint32_t host_port, uint32_t guest_port) {
              return ports && ports(host_port, guest_port) ? HostAnswer::Accepted : HostAnswer::Refused;
          }) {}

    // The host side of a connection the guest asked for (HostAnswer::Pending) is
    // connected, or not (RST). False when no connection waited for it.
    bool host_answered(uint32_t guest_port, uint32_t host_port, bool connected);

    uint64_t guest_cid() const { return guest_cid_; }

    // One packet from the guest's transmit queue: its header, and the payload bytes
    // the chain held after it (`available`, which may be more or fewer than len).
    void on_guest_packet(const Header& header, const uint8_t* payload, size_t available);

    // The host connects to guest port `guest_port` (a CONNECT line): a connection from
    // a fresh host port; nullopt when the table is full.
    std::optional<uint32_t> connect_from_host(uint32_t guest_port);

    using Key = std::pair<uint32_t, uint32_t>;  // (guest port, host port)
    Connection* find(uint32_t guest_port, uint32_t host_port);
    const Connection* find(uint32_t guest_port, uint32_t host_port) const;
    // Forgets every connection and pending reply (a device reset).
    void clear();
    std::map<Key, Connection>& connections() { return connections_; }
    // Drops connections that have closed (after their last packets were taken).
    void forget_closed();

    // Whether packets for the guest have piled up to kMaxPendingReplies: the device
    // stops reading the transmit queue until they drain.
    bool backlogged() const;

    // The next packet for the guest, from the table's own replies first, then each
    // connection's outbox in turn; nullopt when there is none.
    std::optional<Packet> next_for_guest();

    struct Counters {
        uint64_t bad_packets = 0;       // refused before any connection saw them
        uint64_t refused_requests = 0;  // nothing listens, or the table is full
        uint64_t dropped_replies = 0;   // RSTs not queued (kMaxPendingReplies)
    };
    const Counters& counters() const { return counters_; }

private:
    // An RST for a packet that reached no connection (none for an RST).
    void refuse(const Header& header);

    uint64_t guest_cid_;
    AsyncHostPorts host_ports_;
    std::map<Key, Connection> connections_;
    std::deque<Packet> replies_;
    uint32_t next_host_port_ = 1u << 30;  // host-side ports for CONNECT, above common ones
    Key next_turn_{0, 0};                 // where next_for_guest() resumes, for fairness
    Counters counters_;
};

}  // namespace brig::devices::vsock
