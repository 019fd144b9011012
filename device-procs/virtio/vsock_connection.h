// virtio-vsock (virtio 1.2, 5.10) stream connections, device side: the packet header,
// and one connection's state machine and credit accounting, with no queue and no
// socket in it, so that every rule can be tested on its own.
//
// Credit (5.10.6.3): each side advertises buf_alloc (its receive buffer for this
// connection) and fwd_cnt (bytes it has taken out of that buffer so far). A side may
// have at most peer_buf_alloc - (tx_cnt - peer_fwd_cnt) bytes in flight.
// - guest -> host: the device buffers what the guest sent until the host socket takes
//   it; it advertises kDeviceBufAlloc, and a guest that sends past that credit is
//   lying: the connection is reset.
// - host -> guest: the device reads the host socket only while the guest has credit
//   (host_read_allowance()), so no connection buffers without bound on either side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace brig::devices::vsock {

constexpr uint64_t kHostCid = 2;
constexpr uint16_t kTypeStream = 1;
constexpr uint32_t kShutdownReceive = 1;  // the sender will receive no more
constexpr uint32_t kShutdownSend = 2;     // the sender will send no more
// What the device may buffer per connection, guest -> host (its buf_alloc). With at
// most one packet read ahead host -> guest, a connection holds at most 128 KiB, and
// the device at most kVsockMaxConnections times that (16 MiB).
constexpr uint32_t kDeviceBufAlloc = 64 * 1024;
// The largest payload in one packet, either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
constexpr uint32_t kMaxPayload = 64 * 1024;

enum class Op : uint16_t {
    Invalid = 0,
    Request = 1,
    Response = 2,
    Rst = 3,
    Shutdown = 4,
    Rw = 5,
    CreditUpdate = 6,
    CreditRequest = 7,
};

// struct virtio_vsock_hdr, little-endian, 44 bytes.
struct Header {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint32_t len;
    uint16_t type;
    uint16_t op;
    uint32_t flags;
    uint32_t buf_alloc;
    uint32_t fwd_cnt;
} __attribute__((packed));
static_assert(sizeof(Header) == 44);

// The header of a packet from the host side of a connection to the guest, with no
// credit in it (a connection adds its own).
Header header_to_guest(uint64_t guest_cid, uint32_t host_port, uint32_t guest_port, Op op, uint32_t len = 0,
                       uint32_t flags = 0);

// A packet for the guest: a header, and for RW its payload.
struct Packet {
    Header header{};
    std::vector<uint8_t> payload;
};

// One stream connection between a guest port and a host port. The caller routes
// packets by (guest port, host port) and moves bytes between the host socket and
// the connection; the connection decides what is allowed and what the guest is told.
class Connection {
public:
    enum class State {
        Connecting,   // host-initiated: REQUEST sent to the guest, no RESPONSE yet
        Accepting,    // guest-initiated: brig is connecting the host side, no RESPONSE sent yet
        Established,  // data flows (possibly half-closed, see the shutdown flags)
        Closed,       // reset or fully shut down: the caller forgets it
    };

    // A connection the guest asked for (its REQUEST), accepted: answers RESPONSE.
    static Connection accept_guest(uint64_t guest_cid, const Header& request, uint32_t host_port);
    // A connection the guest asked for, to be answered once the host side is known:
    // host_accepted() (RESPONSE) or reset() (RST).
    static Connection await_host(uint64_t guest_cid, const Header& request, uint32_t host_port);
    void host_accepted();
    // A connection the host asked for: sends REQUEST, waits for the guest's RESPONSE.
    static Connection connect_guest(uint64_t guest_cid, uint32_t guest_port, uint32_t host_port);

    State state() const { return state_; }
    uint32_t guest_port() const { return guest_port_; }
    uint32_t host_port() const { return host_port_; }

    // A packet from the guest for this connection (its header checked by the caller:
    // CIDs, type, len <= kMaxPayload). Returns false when the connection is reset as
    // a result (a lie, a bad op): the caller then drops it. Appends what the guest
    // must be told (a reply) to outbox(); RW payload goes to to_host().
    bool on_guest_packet(const Header& header, const uint8_t* payload);

    // guest -> host bytes waiting for the host socket.
    std::deque<uint8_t>& to_host() { return to_host_; }
    const std::deque<uint8_t>& to_host() const { return to_host_; }
    // The host socket took `n` bytes of to_host(): they count as forwarded (fwd_cnt),
    // and the guest is told when its credit has grown by a good share.
    void forwarded_to_host(size_t n);
    // How many bytes may be read from the host socket now and sent to the guest.
    uint32_t host_read_allowance() const;
    // Bytes read from the host socket (at most host_read_allowance()): an RW packet.
    void from_host(const uint8_t* data, size_t n);
    // The host socket reached end-of-file (or broke): SHUTDOWN both ways to the guest,
    // once to_host() is no longer wanted.
    void host_closed();
    // The host shut down its sending side only (end-of-file, the socket still takes
    // bytes): SHUTDOWN "will send no more" to the guest; guest -> host goes on.
    void host_done_sending();
    bool host_sending() const { return !host_closed_ && !host_send_done_; }
    // The guest shut down its sending side and everything it sent reached the host:
    // the caller may half-close the host socket.
    bool guest_done_sending() const { return (peer_shutdown_ & kShutdownSend) && to_host_.empty(); }
    // Packets for the guest, in order.
    std::deque<Packet>& outbox() { return outbox_; }
    const std::deque<Packet>& outbox() const { return outbox_; }
    // An RST for the guest, and the connection closed.
    void reset();

    // The guest's last credit figures (for tests and logs).
    uint32_t peer_buf_alloc() const { return peer_buf_alloc_; }
    uint32_t peer_fwd_cnt() const { return peer_fwd_cnt_; }
    uint32_t tx_cnt() const { return tx_cnt_; }
    uint32_t fwd_cnt() const { return fwd_cnt_; }

private:
    Connection(uint64_t guest_cid, uint32_t guest_port, uint32_t host_port, State state)
        : guest_cid_(guest_cid), guest_port_(guest_port), host_port_(host_port), state_(state) {}
    // A header for the guest; it carries the device's credit, so the guest has now
    // been told the current fwd_cnt.
    Header header_for_guest(Op op, uint32_t len = 0, uint32_t flags = 0);
    void send(Op op, uint32_t flags = 0) { outbox_.push_back({header_for_guest(op, 0, flags), {}}); }
    // The guest's buf_alloc and fwd_cnt; false when fwd_cnt goes back or past what was sent.
    bool take_credit(const Header& header);
    void close_if_done();

    uint64_t guest_cid_;
    uint32_t guest_port_;
    uint32_t host_port_;
    State state_;
    uint32_t peer_buf_alloc_ = 0;
    uint32_t peer_fwd_cnt_ = 0;
    uint32_t tx_cnt_ = 0;             // bytes sent to the guest
    uint32_t fwd_cnt_ = 0;            // guest bytes the host socket has taken
    uint32_t last_sent_fwd_cnt_ = 0;  // fwd_cnt the guest was last told
    uint32_t peer_shutdown_ = 0;      // the guest's SHUTDOWN flags so far
    bool host_closed_ = false;
    bool host_send_done_ = false;
    std::deque<uint8_t> to_host_;
    std::deque<Packet> outbox_;
};

}  // namespace brig::devices::vsock
