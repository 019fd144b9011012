#include "device-procs/virtio/virtio_net.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/error.h"
#include "ipc/virtio/chain_io.h"

namespace brig::devices {
namespace {

using virtio::QueueError;

// The header fields, read once from the guest's copy (or the TAP's).
struct NetHeader {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == VirtioNet::kHeaderSize);

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoUdp = 17;
constexpr size_t kIpv6Header = 40;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr size_t kVlanTag = 4;
constexpr size_t kMaxVlanTags = 2;

// The first bytes of the frame, copied once: enough to see its EtherType (behind up to
// two VLAN tags, as Linux's TSO over VLAN devices makes them) and IP protocol. The TAP
// is sent this copy, not the guest's bytes.
struct FrameStart {
    uint8_t bytes[VirtioNet::kEthernetHeader + kMaxVlanTags * kVlanTag + kIpv6Header] = {};
    size_t length = 0;
    // Where the network header starts.
    size_t l3() const {
        size_t at = 14;
        for (size_t tags = 0; tags < kMaxVlanTags && length >= at; ++tags) {
            const uint16_t type = be16(bytes + at - 2);
            if (type != kEtherTypeVlan && type != kEtherTypeQinQ) break;
            at += kVlanTag;
        }
        return at;
    }
    uint16_t ether_type() const { return length >= l3() ? be16(bytes + l3() - 2) : 0; }
    // The IPv4 protocol, the IPv6 next header (an extension header is not looked past:
    // 0 then, which matches anything), or 0.
    uint8_t ip_protocol() const {
        if (ether_type() == kEtherTypeIpv4 && length >= l3() + 20) return bytes[l3() + 9];
        if (ether_type() == kEtherTypeIpv6 && length >= l3() + kIpv6Header) {
            const uint8_t next = bytes[l3() + 6];
            return next == kIpProtoTcp || next == kIpProtoUdp ? next : 0;
        }
        return 0;
    }
    // Whether a frame that asks for GSO of this type is the kind of packet it names.
    bool agrees_with(uint8_t gso) const {
        const uint8_t proto = ip_protocol();
        const bool v4 = ether_type() == kEtherTypeIpv4, v6 = ether_type() == kEtherTypeIpv6;
        if (gso == VirtioNet::kGsoTcpV4) return v4 && proto == kIpProtoTcp;
        if (gso == VirtioNet::kGsoTcpV6) return v6 && (proto == kIpProtoTcp || proto == 0);
        if (gso == VirtioNet::kGsoUdp)
            return (v4 && proto == kIpProtoUdp) || (v6 && (proto == kIpProtoUdp || proto == 0));
        return false;
    }
};

// TUNSETOFFLOAD: a socketpair in the unit tests says ENOTTY, a TAP never does.
void set_offloads(int tap, unsigned offloads, DeviceLogger& log) {
    if (::ioctl(tap, TUNSETOFFLOAD, offloads) != 0 && errno != ENOTTY)
        log.warn("TUNSETOFFLOAD {:#x}: {}", offloads, base::errno_text(errno));
}

// A transmit header, on the device's copy: what the driver may ask for, and what the
// frame's first bytes agree with. Unknown flags are cleared. Throws QueueError.
void check_tx_header(NetHeader& header, const FrameStart& start, uint64_t frame_length, uint64_t driver_features) {
    const auto negotiated = [driver_features](unsigned bit) { return (driver_features >> bit) & 1; };
    // Flag bits it does not know the device ignores (virtio 1.2, 5.1.6.2.2); so does the TAP.
    header.flags &= VirtioNet::kHeaderNeedsCsum;
    if (header.flags & VirtioNet::kHeaderNeedsCsum) {
        if (!negotiated(VirtioNet::kFeatureCsum)) throw QueueError("virtio-net: NEEDS_CSUM without VIRTIO_NET_F_CSUM");
        if (uint64_t{header.csum_start} + header.csum_offset + 2 > frame_length)
            throw QueueError("virtio-net: the checksum field lies past the frame");
    }
    const uint8_t gso = header.gso_type & ~VirtioNet::kGsoEcn;
    if (header.gso_type & VirtioNet::kGsoEcn) throw QueueError("virtio-net: GSO ECN was not offered");
    if (gso != VirtioNet::kGsoNone) {
        const bool offered = (gso == VirtioNet::kGsoTcpV4 && negotiated(VirtioNet::kFeatureHostTso4)) ||
                             (gso == VirtioNet::kGsoTcpV6 && negotiated(VirtioNet::kFeatureHostTso6)) ||
                             (gso == VirtioNet::kGsoUdp && negotiated(VirtioNet::kFeatureHostUfo));
        if (!offered)
            throw QueueError("virtio-net: GSO type " + std::to_string(header.gso_type) +
                             " the driver did not negotiate");
        if (header.gso_size == 0 || !(header.flags & VirtioNet::kHeaderNeedsCsum))
            throw QueueError("virtio-net: a GSO header without a segment size or a checksum request");
        // A packet that is not what its GSO type says: no driver makes one (VLAN tags
        // and IPv6 extension headers are looked past), so the driver is hostile.
        // hdr_len is only a hint (the device must not rely on it) and goes to the TAP
        // as it is.
        if (!start.agrees_with(gso))
            throw QueueError("virtio-net: GSO type " + std::to_string(gso) + " contradicts the frame");
    }
}

}  // namespace

VirtioNet::VirtioNet(base::UniqueFd tap, ipc::MacAddress mac, const std::string& device)
    : log_(device), tap_(std::move(tap)), mac_(mac), rx_frame_(kHeaderSize + kMaxFrame) {
    // rx polls the TAP and reads until EAGAIN, so it must not block.
    const int flags = ::fcntl(tap_.get(), F_GETFL);
    if (flags < 0 || ::fcntl(tap_.get(), F_SETFL, flags | O_NONBLOCK) != 0) base::throw_errno("virtio-net: fcntl(tap)");
}

std::unique_ptr<HostedVirtioDevice> VirtioNet::create(const std::string& name, Resources& resources,
                                                      const Settings& settings) {
    const auto it = settings.find(std::string(ipc::setting::kMac));
    if (it == settings.end()) throw std::runtime_error("activate: virtio-net needs a 'mac' setting");
    const auto mac = ipc::MacAddress::parse(it->second);
    if (!mac || mac->is_multicast())
        throw std::runtime_error("activate: '" + it->second + "' is not a unicast MAC address");
    return std::make_unique<VirtioNet>(take_resource(resources, std::string(ipc::resource::kTap), true), *mac, name);
}

uint64_t VirtioNet::device_features() const {
    uint64_t f = 0;
    for (unsigned bit :
         {kFeatureCsum, kFeatureGuestCsum, kFeatureMac, kFeatureGuestTso4, kFeatureGuestTso6, kFeatureGuestUfo,
          kFeatureHostTso4, kFeatureHostTso6, kFeatureHostUfo, kFeatureMrgRxbuf, kFeatureStatus})
        f |= 1ull << bit;
    return f;
}

void VirtioNet::read_config(uint32_t offset, std::span<uint8_t> data) {
    uint8_t config[kConfigSize] = {};
    std::copy(mac_.bytes.begin(), mac_.bytes.end(), config);
    const uint16_t status = kStatusLinkUp;
    std::memcpy(config + 6, &status, sizeof status);
    virtio::read_config_bytes(config, offset, data);
}

void VirtioNet::activate(uint64_t driver_features) {
    driver_features_ = driver_features;
    // What the TAP may hand us (and so the guest): only what the driver can take.
    unsigned offloads = 0;
    if (negotiated(kFeatureGuestCsum)) {
        offloads |= TUN_F_CSUM;
        if (negotiated(kFeatureGuestTso4)) offloads |= TUN_F_TSO4;
        if (negotiated(kFeatureGuestTso6)) offloads |= TUN_F_TSO6;
        if (negotiated(kFeatureGuestUfo)) offloads |= TUN_F_UFO;
    }
    // A TAP refuses only offloads it cannot do; then it sends plain frames, which every
    // driver takes.
    set_offloads(tap_.get(), offloads, log_);
}

void VirtioNet::flush() {
    log_.debug("rx {} frames ({} dropped), tx {} frames ({} dropped)", counters_.rx_frames, counters_.rx_dropped,
               counters_.tx_frames, counters_.tx_dropped);
}

void VirtioNet::reset() {
    driver_features_ = 0;
    set_offloads(tap_.get(), 0, log_);  // none until the next driver accepts some
    rx_pending_ = false;                // the frame held for the old rings is dropped
    rx_chains_.clear();
}

void VirtioNet::process_queue(unsigned queue, virtio::QueueContext& ctx) {
    if (queue >= ctx.queues.size()) return;
    if (queue == kTransmitQueue) transmit(ctx);
    if (queue == kReceiveQueue) receive(ctx);
}

void VirtioNet::transmit(virtio::QueueContext& ctx) {
    virtio::serve_available(ctx, kTransmitQueue, [&](const virtio::DescriptorChain& chain) {
        if (!chain.writable.empty()) throw QueueError("virtio-net: a transmit chain has a device-writable buffer");
        const uint64_t length = chain.readable_bytes();
        if (length < kHeaderSize + kEthernetHeader)
            throw QueueError("virtio-net: a transmit chain of " + std::to_string(length) +
                             " bytes is shorter than a header and an Ethernet header");
        if (length > kHeaderSize + kMaxFrame)
            throw QueueError("virtio-net: a transmit chain of " + std::to_string(length) + " bytes exceeds " +
                             std::to_string(kHeaderSize + kMaxFrame));
        // The header and frame start are copied once and checked; the TAP gets the copy,
        // so a guest that rewrites them meanwhile changes nothing that was checked.
        NetHeader header;
        virtio::copy_from_buffers(ctx.memory, chain.readable, 0,
                                  std::span(reinterpret_cast<uint8_t*>(&header), sizeof header));
        const uint64_t frame_length = length - kHeaderSize;
        FrameStart start;
        start.length =
            virtio::copy_from_buffers(ctx.memory, chain.readable, kHeaderSize,
                                      std::span(start.bytes, std::min<size_t>(sizeof start.bytes, frame_length)));

        check_tx_header(header, start, frame_length, driver_features_);
        header.num_buffers = 0;

        // The checked header and frame start from the copies, the rest from guest memory.
        std::vector<iovec> iov{{&header, sizeof header}, {start.bytes, start.length}};
        const auto data =
            virtio::buffer_iovecs(ctx.memory, chain.readable, kHeaderSize + start.length, frame_length - start.length);
        iov.insert(iov.end(), data.begin(), data.end());
        const ssize_t n = ::writev(tap_.get(), iov.data(), static_cast<int>(iov.size()));
        if (n < 0) {
            // A TAP that is down or full drops the frame, as a wire would.
            ++counters_.tx_dropped;
        } else {
            ++counters_.tx_frames;
        }
        return uint32_t{0};
    });
}

bool VirtioNet::read_frame() {
    for (;;) {
        const ssize_t n = ::read(tap_.get(), rx_frame_.data(), rx_frame_.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return false;
        if (n <= 0) {
            log_.error("TAP read: {}; receiving stops", n == 0 ? "end of file" : base::errno_text(errno));
            tap_broken_ = true;
            return false;
        }
        // A TAP reports a frame's whole length even when it truncated it to the buffer.
        if (static_cast<size_t>(n) < kHeaderSize + kEthernetHeader || static_cast<size_t>(n) > rx_frame_.size() ||
            !rx_header_acceptable()) {
            ++counters_.rx_dropped;
            continue;
        }
        rx_length_ = static_cast<size_t>(n);
        rx_pending_ = true;
        return true;
    }
}

bool VirtioNet::rx_header_acceptable() {
    // The TAP may still hold frames made before TUNSETOFFLOAD took effect (or with a
    // persistent TAP's earlier offloads): only what the driver accepted reaches it.
    NetHeader header;
    std::memcpy(&header, rx_frame_.data(), sizeof header);
    const uint8_t gso = header.gso_type & ~kGsoEcn;
    const bool gso_ok = gso == kGsoNone || (gso == kGsoTcpV4 && negotiated(kFeatureGuestTso4)) ||
                        (gso == kGsoTcpV6 && negotiated(kFeatureGuestTso6)) ||
                        (gso == kGsoUdp && negotiated(kFeatureGuestUfo));
    if (!gso_ok || (header.gso_type & kGsoEcn)) return false;
    if (!negotiated(kFeatureGuestCsum)) {
        if (header.flags & kHeaderNeedsCsum) return false;
        rx_frame_[offsetof(NetHeader, flags)] = 0;  // virtio 1.2, 5.1.6.4.1: no flags without GUEST_CSUM
    }
    return true;
}

bool VirtioNet::deliver_frame(virtio::UsedBatch& batch, const virtio::GuestMemoryView& memory) {
    const bool merge = negotiated(kFeatureMrgRxbuf);
    uint64_t room = 0;
    for (const auto& chain : rx_chains_) room += chain.writable_bytes();
    while (room < rx_length_) {
        // Without MRG_RXBUF a frame takes one chain, and this one is too small; with
        // it, the driver may have posted its whole ring and still too little. Either
        // way the frame is dropped and the chains wait for the next one.
        if ((!rx_chains_.empty() && !merge) || rx_chains_.size() >= batch.queue().size()) {
            ++counters_.rx_dropped;
            rx_pending_ = false;
            return true;
        }
        auto chain = batch.queue().pop();
        if (!chain) return false;  // the driver posts more and notifies
        if (!chain->readable.empty()) throw QueueError("virtio-net: a receive chain has a device-readable buffer");
        if (chain->writable_bytes() < kHeaderSize)
            throw QueueError("virtio-net: a receive chain shorter than the header");
        room += chain->writable_bytes();
        rx_chains_.push_back(std::move(*chain));
    }
    // The TAP's header, with num_buffers: how many chains this frame takes.
    size_t used_chains = 0;
    for (uint64_t covered = 0; covered < rx_length_; ++used_chains) covered += rx_chains_[used_chains].writable_bytes();
    const uint16_t num_buffers = static_cast<uint16_t>(used_chains);
    std::memcpy(rx_frame_.data() + offsetof(NetHeader, num_buffers), &num_buffers, sizeof num_buffers);
    size_t offset = 0;
    for (size_t i = 0; i < used_chains; ++i) {
        const auto& chain = rx_chains_[i];
        const size_t n = virtio::copy_to_buffers(memory, chain.writable, 0,
                                                 std::span(rx_frame_.data() + offset, rx_length_ - offset));
        offset += n;
        batch.complete(chain.head, static_cast<uint32_t>(n));
    }
    rx_chains_.erase(rx_chains_.begin(), rx_chains_.begin() + static_cast<std::ptrdiff_t>(used_chains));
    ++counters_.rx_frames;
    rx_pending_ = false;
    return true;
}

void VirtioNet::receive(virtio::QueueContext& ctx) {
    virtio::UsedBatch batch(ctx, kReceiveQueue);
    for (unsigned frames = 0; frames < kRxBudget; ++frames) {
        if (!rx_pending_ && (tap_broken_ || !read_frame())) return;
        if (!deliver_frame(batch, ctx.memory)) return;  // held until receiveq is notified
    }
}

}  // namespace brig::devices
