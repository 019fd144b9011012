#include "device-procs/virtio/vsock_muxer.h"

namespace brig::devices::vsock {

void Muxer::refuse(const Header& header) {
    if (static_cast<Op>(header.op) == Op::Rst) return;
    if (replies_.size() >= kMaxPendingReplies) {
        ++counters_.dropped_replies;
        return;
    }
    replies_.push_back({header_to_guest(guest_cid_, header.dst_port, header.src_port, Op::Rst), {}});
}

void Muxer::on_guest_packet(const Header& header, const uint8_t* payload, size_t available) {
    const auto op = static_cast<Op>(header.op);
    const bool known_op =
        header.op >= static_cast<uint16_t>(Op::Request) && header.op <= static_cast<uint16_t>(Op::CreditRequest);
    const bool sound = header.src_cid == guest_cid_ && header.dst_cid == kHostCid && header.type == kTypeStream &&
                       known_op && header.len <= kMaxPayload && header.len <= available &&
                       (op == Op::Rw || header.len == 0);
    if (!sound) {
        ++counters_.bad_packets;
        refuse(header);
        return;
    }
    const Key key{header.src_port, header.dst_port};
    auto it = connections_.find(key);
    if (it == connections_.end()) {
        if (op != Op::Request) {
            ++counters_.bad_packets;  // RW, SHUTDOWN, ... for a connection that does not exist
            refuse(header);
            return;
        }
        const HostAnswer answer = connections_.size() >= kMaxConnections || !host_ports_
                                      ? HostAnswer::Refused
                                      : host_ports_(header.dst_port, header.src_port);
        if (answer == HostAnswer::Refused) {
            ++counters_.refused_requests;
            refuse(header);
            return;
        }
        connections_.emplace(key, answer == HostAnswer::Accepted
                                      ? Connection::accept_guest(guest_cid_, header, header.dst_port)
                                      : Connection::await_host(guest_cid_, header, header.dst_port));
        return;
    }
    it->second.on_guest_packet(header, payload);
}

std::optional<uint32_t> Muxer::connect_from_host(uint32_t guest_port) {
    if (connections_.size() >= kMaxConnections) return std::nullopt;
    // A host port no connection to this guest port uses; the space is 2^30 wide.
    uint32_t port = next_host_port_;
    while (connections_.count({guest_port, port})) ++port;
    next_host_port_ = port + 1 < (1u << 31) ? port + 1 : (1u << 30);
    connections_.emplace(Key{guest_port, port}, Connection::connect_guest(guest_cid_, guest_port, port));
    return port;
}

bool Muxer::host_answered(uint32_t guest_port, uint32_t host_port, bool connected) {
    Connection* c = find(guest_port, host_port);
    if (!c || c->state() != Connection::State::Accepting) return false;
    if (connected) {
        c->host_accepted();
        return true;
    }
    ++counters_.refused_requests;
    c->reset();
    return false;
}

Connection* Muxer::find(uint32_t guest_port, uint32_t host_port) {
    auto it = connections_.find({guest_port, host_port});
    return it == connections_.end() ? nullptr : &it->second;
}

const Connection* Muxer::find(uint32_t guest_port, uint32_t host_port) const {
    auto it = connections_.find({guest_port, host_port});
    return it == connections_.end() ? nullptr : &it->second;
}

void Muxer::clear() {
    connections_.clear();
    replies_.clear();
    next_turn_ = {0, 0};
}

void Muxer::forget_closed() {
    for (auto it = connections_.begin(); it != connections_.end();) {
        if (it->second.state() == Connection::State::Closed && it->second.outbox().empty())
            it = connections_.erase(it);
        else
            ++it;
    }
}

bool Muxer::backlogged() const {
    size_t pending = replies_.size();
    for (const auto& [key, connection] : connections_) pending += connection.outbox().size();
    return pending >= kMaxPendingReplies;
}

std::optional<Packet> Muxer::next_for_guest() {
    if (!replies_.empty()) {
        Packet p = std::move(replies_.front());
        replies_.pop_front();
        return p;
    }
    if (connections_.empty()) return std::nullopt;
    // Round robin from where the last one left off, so one busy connection cannot
    // starve the others.
    auto start = connections_.lower_bound(next_turn_);
    for (size_t visited = 0; visited < connections_.size(); ++visited) {
        if (start == connections_.end()) start = connections_.begin();
        auto& outbox = start->second.outbox();
        if (!outbox.empty()) {
            Packet p = std::move(outbox.front());
            outbox.pop_front();
            auto next = std::next(start);
            next_turn_ = next == connections_.end() ? Key{0, 0} : next->first;
            return p;
        }
        ++start;
    }
    return std::nullopt;
}

}  // namespace brig::devices::vsock
