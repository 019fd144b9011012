#include "device-procs/virtio/vsock_connection.h"

#include <algorithm>

namespace brig::devices::vsock {
namespace {
// The guest is told of freed buffer space once it adds up to this much.
constexpr uint32_t kCreditUpdateThreshold = kDeviceBufAlloc / 4;
constexpr uint32_t kShutdownBoth = kShutdownReceive | kShutdownSend;
}  // namespace

Connection Connection::accept_guest(uint64_t guest_cid, const Header& request, uint32_t host_port) {
    Connection c(guest_cid, request.src_port, host_port, State::Established);
    c.take_credit(request);
    c.send(Op::Response);
    return c;
}

Connection Connection::await_host(uint64_t guest_cid, const Header& request, uint32_t host_port) {
    Connection c(guest_cid, request.src_port, host_port, State::Accepting);
    c.take_credit(request);
    return c;
}

void Connection::host_accepted() {
    if (state_ != State::Accepting) return;
    state_ = State::Established;
    send(Op::Response);
}

Connection Connection::connect_guest(uint64_t guest_cid, uint32_t guest_port, uint32_t host_port) {
    Connection c(guest_cid, guest_port, host_port, State::Connecting);
    c.send(Op::Request);
    return c;
}

Header header_to_guest(uint64_t guest_cid, uint32_t host_port, uint32_t guest_port, Op op, uint32_t len,
                       uint32_t flags) {
    Header h{};
    h.src_cid = kHostCid;
    h.dst_cid = guest_cid;
    h.src_port = host_port;
    h.dst_port = guest_port;
    h.len = len;
    h.type = kTypeStream;
    h.op = static_cast<uint16_t>(op);
    h.flags = flags;
    return h;
}

Header Connection::header_for_guest(Op op, uint32_t len, uint32_t flags) {
    Header h = header_to_guest(guest_cid_, host_port_, guest_port_, op, len, flags);
    h.buf_alloc = kDeviceBufAlloc;
    h.fwd_cnt = fwd_cnt_;
    last_sent_fwd_cnt_ = fwd_cnt_;
    return h;
}

bool Connection::take_credit(const Header& header) {
    // In flight = sent - forwarded, in wrapping 32-bit arithmetic; the guest may only
    // shrink it (fwd_cnt never goes back, nor past what it was sent).
    const uint32_t in_flight_before = tx_cnt_ - peer_fwd_cnt_;
    const uint32_t in_flight_now = tx_cnt_ - header.fwd_cnt;
    if (in_flight_now > in_flight_before) return false;
    peer_buf_alloc_ = header.buf_alloc;
    peer_fwd_cnt_ = header.fwd_cnt;
    return true;
}

void Connection::reset() {
    if (state_ == State::Closed) return;
    send(Op::Rst);
    state_ = State::Closed;
    to_host_.clear();
}

bool Connection::on_guest_packet(const Header& header, const uint8_t* payload) {
    if (state_ == State::Closed) return false;
    const Op op = static_cast<Op>(header.op);
    if (op == Op::Rst) {  // the guest ends it: nothing to answer
        state_ = State::Closed;
        to_host_.clear();
        return false;
    }
    if (!take_credit(header)) {
        reset();
        return false;
    }
    if (state_ == State::Accepting) {  // the guest must wait for our answer
        reset();
        return false;
    }
    if (state_ == State::Connecting) {
        if (op != Op::Response) {
            reset();
            return false;
        }
        state_ = State::Established;
        return true;
    }
    switch (op) {
        case Op::Rw:
            // Past the device's credit, or after the guest said it sends no more: a lie.
            if (header.len > kDeviceBufAlloc - std::min<size_t>(to_host_.size(), kDeviceBufAlloc) ||
                (peer_shutdown_ & kShutdownSend) || host_closed_) {
                reset();
                return false;
            }
            to_host_.insert(to_host_.end(), payload, payload + header.len);
            return true;
        case Op::CreditUpdate:
            return true;
        case Op::CreditRequest:
            send(Op::CreditUpdate);
            return true;
        case Op::Shutdown:
            peer_shutdown_ |= header.flags & kShutdownBoth;
            close_if_done();
            return state_ != State::Closed;
        default:  // REQUEST or RESPONSE on an open connection, or an op that does not exist
            reset();
            return false;
    }
}

void Connection::close_if_done() {
    // Both directions shut and everything the guest sent delivered: RST ends it, as
    // Linux's transport does.
    if (peer_shutdown_ == kShutdownBoth && to_host_.empty()) reset();
}

void Connection::forwarded_to_host(size_t n) {
    n = std::min(n, to_host_.size());
    to_host_.erase(to_host_.begin(), to_host_.begin() + static_cast<std::ptrdiff_t>(n));
    fwd_cnt_ += static_cast<uint32_t>(n);
    if (state_ == State::Established && fwd_cnt_ - last_sent_fwd_cnt_ >= kCreditUpdateThreshold) send(Op::CreditUpdate);
    close_if_done();
}

uint32_t Connection::host_read_allowance() const {
    if (state_ != State::Established || !host_sending() || (peer_shutdown_ & kShutdownReceive)) return 0;
    const uint32_t in_flight = tx_cnt_ - peer_fwd_cnt_;
    if (in_flight >= peer_buf_alloc_) return 0;
    return std::min(peer_buf_alloc_ - in_flight, kMaxPayload);
}

void Connection::from_host(const uint8_t* data, size_t n) {
    n = std::min<size_t>(n, host_read_allowance());
    if (n == 0) return;
    Packet packet{header_for_guest(Op::Rw, static_cast<uint32_t>(n)), std::vector<uint8_t>(data, data + n)};
    outbox_.push_back(std::move(packet));
    tx_cnt_ += static_cast<uint32_t>(n);
}

void Connection::host_done_sending() {
    if (state_ != State::Established || !host_sending()) return;
    host_send_done_ = true;
    send(Op::Shutdown, kShutdownSend);
}

void Connection::host_closed() {
    if (state_ != State::Established || host_closed_) return;
    host_closed_ = true;
    to_host_.clear();  // nobody will take it
    send(Op::Shutdown, kShutdownBoth);
}

}  // namespace brig::devices::vsock
