#include "device-procs/virtio/virtio_vsock.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "base/error.h"
#include "ipc/virtio/chain_io.h"

namespace brig::devices {
namespace {

using vsock::Connection;
using vsock::Header;
using vsock::Packet;

// Host sockets are never blocking, and a peer that went away is an EPIPE, not a SIGPIPE.
constexpr int kSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL;
constexpr int kRecvFlags = MSG_DONTWAIT;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

VirtioVsock::VirtioVsock(uint64_t guest_cid, const std::string& device)
    : log_(device),
      guest_cid_(guest_cid),
      muxer_(guest_cid, vsock::Muxer::AsyncHostPorts([this](uint32_t host_port, uint32_t guest_port) {
                 return connect_ && connect_(guest_port, host_port) ? vsock::Muxer::HostAnswer::Pending
                                                                    : vsock::Muxer::HostAnswer::Refused;
             })),
      buffer_(vsock::kMaxPayload) {}

std::unique_ptr<HostedVirtioDevice> VirtioVsock::create(const std::string& name, Resources&, const Settings& settings) {
    const auto it = settings.find(std::string(ipc::setting::kGuestCid));
    if (it == settings.end()) throw std::runtime_error("activate: virtio-vsock needs a 'guest-cid' setting");
    uint64_t cid = 0;
    const char* end = it->second.data() + it->second.size();
    const auto [ptr, ec] = std::from_chars(it->second.data(), end, cid);
    // 0xffffffff is VMADDR_CID_ANY; the header's CIDs are 64-bit but Linux's are 32.
    if (ec != std::errc() || ptr != end || cid < kMinGuestCid || cid >= 0xffffffffu)
        throw std::runtime_error("activate: '" + it->second + "' is not a guest CID (3 to 4294967294)");
    return std::make_unique<VirtioVsock>(cid, name);
}

void VirtioVsock::read_config(uint32_t offset, std::span<uint8_t> data) {
    uint8_t config[kConfigSize];
    std::memcpy(config, &guest_cid_, sizeof guest_cid_);  // little-endian, as the host
    virtio::read_config_bytes(config, offset, data);
}

void VirtioVsock::reset() {
    // Every connection ends with the driver (virtio 1.2, 5.10.6.6): the host sees EOF.
    sockets_.clear();
    by_fd_.clear();
    owes_ok_.clear();
    host_write_shut_.clear();
    held_.reset();
    tx_stalled_ = false;
    muxer_.clear();
}

void VirtioVsock::process_queue(unsigned queue, virtio::QueueContext& ctx) {
    if (queue >= ctx.queues.size()) return;
    if (queue == kTxQueue) transmit(ctx);
    // The event queue's buffers wait for an event this device never sends (it is not
    // migrated, so it never resets the transport under the guest).
    if (queue == kTxQueue || queue == kRxQueue) {
        settle();
        deliver(ctx);
        // The driver took packets: a transmit queue held back for them goes on.
        if (tx_stalled_ && !muxer_.backlogged()) {
            transmit(ctx);
            settle();
            deliver(ctx);
        }
    }
}

void VirtioVsock::transmit(virtio::QueueContext& ctx) {
    virtio::UsedBatch batch(ctx, kTxQueue);
    for (unsigned served = 0; served < virtio::kChainsPerRun; ++served) {
        // Packets for the guest piled up: the rest waits in the ring until it takes some.
        tx_stalled_ = muxer_.backlogged();
        if (tx_stalled_) return;
        auto chain = batch.queue().pop();
        if (!chain) return;
        transmit_one(*chain, ctx.memory);
        batch.complete(chain->head, 0);
    }
    if (ctx.requeue) ctx.requeue(kTxQueue);
}

void VirtioVsock::transmit_one(const virtio::DescriptorChain& chain, const virtio::GuestMemoryView& memory) {
    const uint64_t length = chain.readable_bytes();
    if (!chain.writable.empty() || length < sizeof(Header)) {
        ++counters_.dropped_chains;
        return;
    }
    Header header;
    virtio::copy_from_buffers(memory, chain.readable, 0, std::span(reinterpret_cast<uint8_t*>(&header), sizeof header));
    // The payload is copied once, and only as much as a packet may carry: the muxer
    // refuses a len past either bound before anything reads it.
    const uint64_t available = length - sizeof header;
    const size_t take = static_cast<size_t>(std::min<uint64_t>({header.len, available, buffer_.size()}));
    virtio::copy_from_buffers(memory, chain.readable, sizeof header, std::span(buffer_.data(), take));
    ++counters_.tx_packets;
    muxer_.on_guest_packet(header, buffer_.data(), static_cast<size_t>(available));
    if (Connection* c = muxer_.find(header.src_port, header.dst_port))
        write_to_host({c->guest_port(), c->host_port()}, *c);
}

void VirtioVsock::deliver(virtio::QueueContext& ctx) {
    virtio::UsedBatch batch(ctx, kRxQueue);
    for (unsigned delivered = 0; delivered < virtio::kChainsPerRun; ++delivered) {
        if (!held_) held_ = muxer_.next_for_guest();
        if (!held_) return;
        auto chain = batch.queue().pop();
        if (!chain) return;  // held until the driver posts buffers and notifies
        const uint64_t room = chain->writable_bytes();
        if (!chain->readable.empty() || room < sizeof(Header)) {
            ++counters_.dropped_chains;
            batch.complete(chain->head, 0);
            continue;
        }
        // A packet larger than the driver's buffer goes in pieces (Linux posts 4 KiB):
        // the same header, each piece its own len; credit counts bytes, not packets.
        Packet& packet = *held_;
        const size_t n = std::min<size_t>(packet.payload.size(), room - sizeof(Header));
        Header header = packet.header;
        header.len = static_cast<uint32_t>(n);
        virtio::copy_to_buffers(ctx.memory, chain->writable, 0,
                                std::span(reinterpret_cast<const uint8_t*>(&header), sizeof header));
        virtio::copy_to_buffers(ctx.memory, chain->writable, sizeof header, std::span(packet.payload.data(), n));
        batch.complete(chain->head, static_cast<uint32_t>(sizeof header + n));
        ++counters_.rx_packets;
        if (n == packet.payload.size())
            held_.reset();
        else
            packet.payload.erase(packet.payload.begin(), packet.payload.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (ctx.requeue) ctx.requeue(kRxQueue);
}

void VirtioVsock::watches(std::vector<Watch>& out) const {
    for (const auto& [key, fd] : sockets_) {
        const Connection* c = muxer_.find(key.first, key.second);
        if (!c) continue;
        short events = 0;
        if (!c->to_host().empty()) events |= POLLOUT;
        // One packet read ahead at most: the rest waits in the host socket.
        if (c->host_read_allowance() > 0 && c->outbox().empty() &&
            !(held_ && held_->header.dst_port == key.first && held_->header.src_port == key.second))
            events |= POLLIN;
        if (events) out.push_back({fd.get(), events});
    }
}

void VirtioVsock::on_ready(int fd, short revents) {
    const auto it = by_fd_.find(fd);
    if (it == by_fd_.end()) return;
    const Key key = it->second;
    Connection* c = muxer_.find(key.first, key.second);
    if (c && (revents & POLLOUT)) write_to_host(key, *c);
    c = muxer_.find(key.first, key.second);
    if (c && sockets_.count(key) && (revents & (POLLIN | POLLHUP | POLLERR))) read_from_host(key, *c, revents);
    settle();
}

void VirtioVsock::write_to_host(const Key& key, Connection& connection) {
    const auto it = sockets_.find(key);
    if (it == sockets_.end()) return;
    auto& pending = connection.to_host();
    while (!pending.empty()) {
        const size_t n = std::min(pending.size(), buffer_.size());
        std::copy_n(pending.begin(), n, buffer_.begin());
        const ssize_t sent = ::send(it->second.get(), buffer_.data(), n, kSendFlags);
        if (sent < 0 && would_block(errno)) return;  // POLLOUT brings us back
        if (sent <= 0) {
            connection.host_closed();  // the host program went away
            return;
        }
        counters_.host_bytes_out += static_cast<uint64_t>(sent);
        connection.forwarded_to_host(static_cast<size_t>(sent));
    }
}

void VirtioVsock::read_from_host(const Key& key, Connection& connection, short revents) {
    const int fd = sockets_.at(key).get();
    const uint32_t allowance = connection.host_read_allowance();
    if (allowance == 0) {
        // Nothing may be read now; a socket that broke is noticed when it may.
        if ((revents & POLLERR) && connection.outbox().empty()) connection.host_closed();
        return;
    }
    const ssize_t n = ::recv(fd, buffer_.data(), std::min<size_t>(allowance, buffer_.size()), kRecvFlags);
    if (n < 0 && would_block(errno)) return;
    if (n > 0) {
        counters_.host_bytes_in += static_cast<uint64_t>(n);
        connection.from_host(buffer_.data(), static_cast<size_t>(n));
        return;
    }
    // End of file. A peer that shut down only its sending side (shutdown(SHUT_WR))
    // still takes bytes: the guest hears "host sends no more". A peer that closed (or
    // both sides shut) is gone: SHUTDOWN both ways.
    const bool gone = n < 0 || (revents & (POLLHUP | POLLERR)) || host_write_shut_.count(key);
    if (gone)
        connection.host_closed();
    else
        connection.host_done_sending();
}

void VirtioVsock::settle() {
    for (auto it = owes_ok_.begin(); it != owes_ok_.end();) {
        Connection* c = muxer_.find(it->first, it->second);
        if (c && c->state() == Connection::State::Connecting) {
            ++it;
            continue;
        }
        if (c && c->state() == Connection::State::Established) {
            // Firecracker's hybrid protocol: the host learns its port once the guest accepted.
            const std::string line = "OK " + std::to_string(c->host_port()) + "\n";
            const auto sock = sockets_.find(*it);
            if (sock != sockets_.end() &&
                ::send(sock->second.get(), line.data(), line.size(), kSendFlags) != static_cast<ssize_t>(line.size()))
                c->reset();  // the host program is gone (a fresh socket takes 20 bytes)
        }
        it = owes_ok_.erase(it);
    }
    for (auto it = sockets_.begin(); it != sockets_.end();) {
        const Key key = it->first;
        Connection* c = muxer_.find(key.first, key.second);
        if (!c || c->state() == Connection::State::Closed) {
            by_fd_.erase(it->second.get());
            host_write_shut_.erase(key);
            owes_ok_.erase(key);
            it = sockets_.erase(it);  // the host program sees EOF
            continue;
        }
        if (c->guest_done_sending() && !host_write_shut_.count(key)) {
            ::shutdown(it->second.get(), SHUT_WR);
            host_write_shut_.insert(key);
        }
        ++it;
    }
    muxer_.forget_closed();
}

void VirtioVsock::host_connection(uint32_t guest_port, uint32_t host_port, base::UniqueFd fd) {
    Key key;
    if (host_port == 0) {  // a host program's CONNECT <guest_port>
        if (!fd) return;
        const auto port = muxer_.connect_from_host(guest_port);
        if (!port) {
            log_.debug("CONNECT {}: the connection table is full", guest_port);
            return;  // fd closes: the host program sees EOF without OK
        }
        key = {guest_port, *port};
        owes_ok_.insert(key);
    } else {  // brig's answer to the guest's REQUEST
        if (!muxer_.host_answered(guest_port, host_port, fd.valid()) || !fd) {
            settle();
            return;
        }
        key = {guest_port, host_port};
    }
    by_fd_[fd.get()] = key;
    sockets_[key] = std::move(fd);
    settle();
}

void VirtioVsock::flush() {
    const auto& m = muxer_.counters();
    log_.debug("tx {} packets, rx {} packets, {} chains dropped, {} bad packets, {} refused, host {} bytes in, {} out",
               counters_.tx_packets, counters_.rx_packets, counters_.dropped_chains, m.bad_packets, m.refused_requests,
               counters_.host_bytes_in, counters_.host_bytes_out);
}

}  // namespace brig::devices
