// virtio-net's rx and tx paths against a SOCK_SEQPACKET socketpair standing in for the
// TAP: like a TAP, each read or write is one whole frame behind its 12-byte header.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "device-procs/virtio/virtio_net.h"
#include "ipc/virtio/virtio_test_guest.h"

using brig::devices::Resources;
using brig::devices::Settings;
using brig::devices::VirtioNet;
using brig::virtio::QueueError;
using brig::virtio::testing::QueueHarness;
using brig::virtio::testing::Seg;

namespace {

constexpr unsigned kRx = VirtioNet::kReceiveQueue;
constexpr unsigned kTx = VirtioNet::kTransmitQueue;
constexpr size_t kHeader = VirtioNet::kHeaderSize;
const brig::ipc::MacAddress kMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

uint64_t bit(unsigned b) { return 1ull << b; }

// A device over one end of a socketpair; the test holds the other ("the host").
struct NetFixture {
    NetFixture(uint64_t features = 0) {
        int fds[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        host = base::UniqueFd(fds[1]);
        device = std::make_unique<VirtioNet>(base::UniqueFd(fds[0]), kMac);
        device->activate(features);
    }

    // A frame of `length` bytes: an Ethernet header with `ether_type`, then a pattern.
    static std::vector<uint8_t> frame(size_t length, uint16_t ether_type = 0x0800, uint8_t seed = 1) {
        std::vector<uint8_t> f(length);
        for (size_t i = 0; i < length; ++i) f[i] = static_cast<uint8_t>(seed + i * 7);
        f[12] = static_cast<uint8_t>(ether_type >> 8);
        f[13] = static_cast<uint8_t>(ether_type);
        return f;
    }
    // What the host sends: a zero header, then the frame.
    void host_sends(const std::vector<uint8_t>& f) {
        std::vector<uint8_t> message(kHeader, 0);
        message.insert(message.end(), f.begin(), f.end());
        REQUIRE(::write(host.get(), message.data(), message.size()) == static_cast<ssize_t>(message.size()));
    }
    // One message from the device, or empty when there is none.
    std::vector<uint8_t> host_receives() {
        std::vector<uint8_t> buf(VirtioNet::kMaxFrame + kHeader + 1);
        const ssize_t n = ::recv(host.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return buf;
    }
    // A transmit chain: `header` then `f`, as two readable buffers.
    void guest_transmits(const std::vector<uint8_t>& header, const std::vector<uint8_t>& f) {
        h.rings[kTx].add({{h.guest.put(header.data(), header.size()), static_cast<uint32_t>(header.size()), false},
                          {h.guest.put(f.data(), f.size()), static_cast<uint32_t>(f.size()), false}});
    }
    uint64_t post_rx(uint32_t len) {
        const uint64_t addr = h.guest.alloc(len);
        h.rings[kRx].add({{addr, len, true}});
        return addr;
    }

    QueueHarness h{2};
    base::UniqueFd host;
    std::unique_ptr<VirtioNet> device;
};

std::vector<uint8_t> header(uint8_t flags = 0, uint8_t gso_type = 0, uint16_t gso_size = 0, uint16_t csum_start = 0,
                            uint16_t csum_offset = 0) {
    std::vector<uint8_t> h(kHeader, 0);
    h[0] = flags;
    h[1] = gso_type;
    std::memcpy(&h[4], &gso_size, 2);
    std::memcpy(&h[6], &csum_start, 2);
    std::memcpy(&h[8], &csum_offset, 2);
    return h;
}

}  // namespace

TEST_CASE("virtio-net: config space holds the MAC and link up; the offered features", "[virtio-net]") {
    NetFixture f;
    uint8_t config[8] = {};
    f.device->read_config(0, config);
    CHECK(std::memcmp(config, kMac.bytes.data(), 6) == 0);
    CHECK(config[6] == 1);
    CHECK(config[7] == 0);
    uint8_t past[4] = {0xff, 0xff, 0xff, 0xff};
    f.device->read_config(6, past);  // bytes past the structure read as 0
    CHECK((past[0] == 1 && past[1] == 0 && past[2] == 0 && past[3] == 0));
    const uint64_t features = f.device->device_features();
    for (unsigned b : {VirtioNet::kFeatureMac, VirtioNet::kFeatureStatus, VirtioNet::kFeatureMrgRxbuf,
                       VirtioNet::kFeatureCsum, VirtioNet::kFeatureGuestCsum, VirtioNet::kFeatureHostTso4,
                       VirtioNet::kFeatureHostTso6, VirtioNet::kFeatureGuestTso4, VirtioNet::kFeatureGuestTso6,
                       VirtioNet::kFeatureHostUfo, VirtioNet::kFeatureGuestUfo})
        CHECK((features & bit(b)) != 0);
    CHECK(f.device->kind().queue_count == 2);
}

TEST_CASE("virtio-net: create() takes the tap and a unicast mac setting", "[virtio-net]") {
    auto resources_with_tap = [] {
        int fds[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        ::close(fds[1]);
        Resources r;
        r.emplace("tap", base::UniqueFd(fds[0]));
        return r;
    };
    Resources r = resources_with_tap();
    CHECK_THROWS_WITH(VirtioNet::create("virtio-net0", r, {}), Catch::Contains("mac"));
    r = resources_with_tap();
    CHECK_THROWS_WITH(VirtioNet::create("virtio-net0", r, Settings{{"mac", "01:00:5e:00:00:01"}}),
                      Catch::Contains("not a unicast MAC"));
    r = resources_with_tap();
    CHECK_THROWS_WITH(VirtioNet::create("virtio-net0", r, Settings{{"mac", "nonsense"}}),
                      Catch::Contains("not a unicast MAC"));
    r = resources_with_tap();
    CHECK(VirtioNet::create("virtio-net0", r, Settings{{"mac", "52:54:00:00:00:01"}}) != nullptr);
    CHECK(r.empty());  // it took the tap
}

TEST_CASE("virtio-net tx: each chain reaches the TAP as header and frame, one interrupt a batch", "[virtio-net]") {
    NetFixture f;
    const auto a = NetFixture::frame(60), b = NetFixture::frame(1514, 0x0806, 9);
    f.guest_transmits(header(), a);
    f.guest_transmits(header(), b);
    f.h.run(*f.device, kTx);
    auto first = f.host_receives(), second = f.host_receives();
    REQUIRE(first.size() == kHeader + a.size());
    CHECK(std::equal(a.begin(), a.end(), first.begin() + kHeader));
    REQUIRE(second.size() == kHeader + b.size());
    CHECK(std::equal(b.begin(), b.end(), second.begin() + kHeader));
    CHECK(f.host_receives().empty());
    CHECK(f.h.rings[kTx].used_idx() == 2);
    CHECK(f.h.rings[kTx].used(0).len == 0);
    CHECK(f.h.signals[kTx] == 1);
    CHECK(f.device->counters().tx_frames == 2);
}

TEST_CASE("virtio-net tx: a checksum request the driver may make goes through", "[virtio-net]") {
    NetFixture f(bit(VirtioNet::kFeatureCsum));
    const auto a = NetFixture::frame(100);
    f.guest_transmits(header(VirtioNet::kHeaderNeedsCsum, 0, 0, 34, 6), a);
    f.h.run(*f.device, kTx);
    const auto got = f.host_receives();
    REQUIRE(got.size() == kHeader + a.size());
    CHECK(got[0] == VirtioNet::kHeaderNeedsCsum);
}

TEST_CASE("virtio-net tx: hostile chains are queue errors, and nothing reaches the TAP", "[virtio-net]") {
    SECTION("a device-writable buffer") {
        NetFixture f;
        const auto hdr = header();
        f.h.rings[kTx].add({{f.h.guest.put(hdr.data(), hdr.size()), kHeader, false}, {f.h.guest.alloc(64), 64, true}});
        CHECK_THROWS_AS(f.h.run(*f.device, kTx), QueueError);
        CHECK(f.host_receives().empty());
    }
    SECTION("shorter than the header") {
        NetFixture f;
        f.h.rings[kTx].add({{f.h.guest.alloc(6), 6, false}});
        CHECK_THROWS_WITH(f.h.run(*f.device, kTx), Catch::Contains("shorter"));
        CHECK(f.host_receives().empty());
    }
    SECTION("longer than 64 KiB plus the Ethernet header and the header") {
        NetFixture f;
        const uint64_t page = f.h.guest.alloc(32768);
        // The same guest memory three times: 12 + 98304 bytes in all.
        f.h.rings[kTx].add({{page, kHeader, false}, {page, 32768, false}, {page, 32768, false}, {page, 32768, false}});
        CHECK_THROWS_WITH(f.h.run(*f.device, kTx), Catch::Contains("exceeds"));
        CHECK(f.host_receives().empty());
    }
    SECTION("the largest frame is not too long") {
        NetFixture f;
        f.guest_transmits(header(), NetFixture::frame(VirtioNet::kMaxFrame));
        f.h.run(*f.device, kTx);
        CHECK(f.host_receives().size() == kHeader + VirtioNet::kMaxFrame);
    }
    SECTION("GSO that was not negotiated") {
        NetFixture f;
        f.guest_transmits(header(0, VirtioNet::kGsoTcpV4, 1448), NetFixture::frame(60, 0x0806));
        CHECK_THROWS_WITH(f.h.run(*f.device, kTx), Catch::Contains("GSO"));
        CHECK(f.host_receives().empty());
    }
    SECTION("GSO without a segment size") {
        NetFixture f(bit(VirtioNet::kFeatureCsum) | bit(VirtioNet::kFeatureHostTso4));
        f.guest_transmits(header(VirtioNet::kHeaderNeedsCsum, VirtioNet::kGsoTcpV4, 0, 34, 16), NetFixture::frame(60));
        CHECK_THROWS_WITH(f.h.run(*f.device, kTx), Catch::Contains("segment size"));
        CHECK(f.host_receives().empty());
    }
    SECTION("NEEDS_CSUM without the feature, or past the frame") {
        NetFixture f;
        f.guest_transmits(header(VirtioNet::kHeaderNeedsCsum, 0, 0, 34, 6), NetFixture::frame(60));
        CHECK_THROWS_WITH(f.h.run(*f.device, kTx), Catch::Contains("NEEDS_CSUM"));
        NetFixture g(bit(VirtioNet::kFeatureCsum));
        g.guest_transmits(header(VirtioNet::kHeaderNeedsCsum, 0, 0, 58, 2), NetFixture::frame(60));
        CHECK_THROWS_WITH(g.h.run(*g.device, kTx), Catch::Contains("past the frame"));
    }
}

TEST_CASE("virtio-net tx: a well-formed GSO frame goes through with its header", "[virtio-net]") {
    NetFixture f(bit(VirtioNet::kFeatureCsum) | bit(VirtioNet::kFeatureHostTso4));
    auto frame = NetFixture::frame(3000);
    frame[14] = 0x45;
    frame[14 + 9] = 6;  // IPv4, TCP
    f.guest_transmits(header(VirtioNet::kHeaderNeedsCsum, VirtioNet::kGsoTcpV4, 1448, 34, 16), frame);
    f.h.run(*f.device, kTx);
    const auto got = f.host_receives();
    REQUIRE(got.size() == kHeader + frame.size());
    CHECK(got[1] == VirtioNet::kGsoTcpV4);
}

TEST_CASE("virtio-net rx: a frame lands in one chain with num_buffers 1", "[virtio-net]") {
    NetFixture f;
    const uint64_t buf = f.post_rx(kHeader + 1514);
    const auto a = NetFixture::frame(98);
    f.host_sends(a);
    f.h.run(*f.device, kRx);
    REQUIRE(f.h.rings[kRx].used_idx() == 1);
    CHECK(f.h.rings[kRx].used(0).len == kHeader + a.size());
    uint16_t num_buffers = 0;
    std::memcpy(&num_buffers, f.h.guest.at(buf + 10), 2);
    CHECK(num_buffers == 1);
    CHECK(std::memcmp(f.h.guest.at(buf + kHeader), a.data(), a.size()) == 0);
    CHECK(f.h.signals[kRx] == 1);
}

TEST_CASE("virtio-net rx: with MRG_RXBUF a frame spans as many chains as it needs", "[virtio-net]") {
    NetFixture f(bit(VirtioNet::kFeatureMrgRxbuf));
    std::vector<uint64_t> bufs;
    for (int i = 0; i < 8; ++i) bufs.push_back(f.post_rx(256));
    const auto a = NetFixture::frame(600);  // 612 bytes with the header: three buffers
    f.host_sends(a);
    f.h.run(*f.device, kRx);
    REQUIRE(f.h.rings[kRx].used_idx() == 3);
    CHECK(f.h.rings[kRx].used(0).len == 256);
    CHECK(f.h.rings[kRx].used(1).len == 256);
    CHECK(f.h.rings[kRx].used(2).len == 100);
    uint16_t num_buffers = 0;
    std::memcpy(&num_buffers, f.h.guest.at(bufs[0] + 10), 2);
    CHECK(num_buffers == 3);
    std::vector<uint8_t> got;
    got.insert(got.end(), f.h.guest.at(bufs[0]) + kHeader, f.h.guest.at(bufs[0]) + 256);
    got.insert(got.end(), f.h.guest.at(bufs[1]), f.h.guest.at(bufs[1]) + 256);
    got.insert(got.end(), f.h.guest.at(bufs[2]), f.h.guest.at(bufs[2]) + 100);
    CHECK(got == a);
}

TEST_CASE("virtio-net rx: with no buffer posted one frame waits and the TAP is not read", "[virtio-net]") {
    NetFixture f;
    for (uint8_t i = 0; i < 5; ++i) f.host_sends(NetFixture::frame(60, 0x0800, i));
    CHECK(f.device->wants_input());
    f.h.run(*f.device, kRx);
    CHECK(f.h.rings[kRx].used_idx() == 0);
    CHECK_FALSE(f.device->wants_input());  // no more polling of the TAP until receiveq moves
    f.h.run(*f.device, kRx);               // a spurious run reads nothing more either
    const uint64_t buf = f.post_rx(kHeader + 1514);
    f.h.run(*f.device, kRx);
    REQUIRE(f.h.rings[kRx].used_idx() == 1);
    CHECK(f.h.guest.at(buf + kHeader)[0] == 0);  // the first frame (seed 0), not a later one
    CHECK_FALSE(f.device->wants_input());        // it read the second, which waits for a buffer
    // The four others stayed in the socket (the device held at most one): they arrive
    // now, one per buffer, and then there is nothing more.
    for (int i = 0; i < 6; ++i) f.post_rx(kHeader + 1514);
    f.h.run(*f.device, kRx);
    const int left = f.h.rings[kRx].used_idx() - 1;
    CHECK(left == 4);
}

TEST_CASE("virtio-net rx: a frame too big for the chain is dropped and the chain kept", "[virtio-net]") {
    NetFixture f;
    const uint64_t buf = f.post_rx(kHeader + 100);
    f.host_sends(NetFixture::frame(1000));
    f.host_sends(NetFixture::frame(80, 0x0800, 3));
    f.h.run(*f.device, kRx);
    REQUIRE(f.h.rings[kRx].used_idx() == 1);
    CHECK(f.h.rings[kRx].used(0).len == kHeader + 80);
    CHECK(f.h.guest.at(buf + kHeader)[0] == 3);
    CHECK(f.device->counters().rx_dropped == 1);
}

TEST_CASE("virtio-net rx: a device-readable receive buffer is a queue error", "[virtio-net]") {
    NetFixture f;
    f.h.rings[kRx].add({{f.h.guest.alloc(1526), 1526, false}});
    f.host_sends(NetFixture::frame(60));
    CHECK_THROWS_WITH(f.h.run(*f.device, kRx), Catch::Contains("device-readable"));
}

TEST_CASE("virtio-net: reset drops the frame held for the old rings", "[virtio-net]") {
    NetFixture f;
    f.host_sends(NetFixture::frame(60));
    f.h.run(*f.device, kRx);
    CHECK_FALSE(f.device->wants_input());
    f.device->reset();
    CHECK(f.device->wants_input());
}

TEST_CASE("virtio-net tx: GSO on a frame that is not what it names is a queue error", "[virtio-net]") {
    NetFixture f(bit(VirtioNet::kFeatureCsum) | bit(VirtioNet::kFeatureHostTso4));
    f.guest_transmits(header(VirtioNet::kHeaderNeedsCsum, VirtioNet::kGsoTcpV4, 1448, 34, 16),
                      NetFixture::frame(60, 0x0806));  // ARP
    CHECK_THROWS_WITH(f.h.run(*f.device, kTx), Catch::Contains("contradicts the frame"));
    CHECK(f.host_receives().empty());
}

TEST_CASE("virtio-net tx: GSO behind VLAN tags and unknown header flags go through", "[virtio-net]") {
    NetFixture f(bit(VirtioNet::kFeatureCsum) | bit(VirtioNet::kFeatureHostTso4));
    auto frame = NetFixture::frame(3000, 0x88a8);  // 802.1ad, then 802.1Q, then IPv4 TCP
    frame[16] = 0x81;
    frame[17] = 0x00;
    frame[20] = 0x08;
    frame[21] = 0x00;
    frame[22] = 0x45;
    frame[22 + 9] = 6;
    f.guest_transmits(header(VirtioNet::kHeaderNeedsCsum | 0x80, VirtioNet::kGsoTcpV4, 1448, 42, 16), frame);
    f.h.run(*f.device, kTx);
    const auto got = f.host_receives();
    REQUIRE(got.size() == kHeader + frame.size());
    CHECK(got[0] == VirtioNet::kHeaderNeedsCsum);  // the unknown bit was ignored, not passed on
    CHECK(std::equal(frame.begin(), frame.end(), got.begin() + kHeader));
}

TEST_CASE("virtio-net tx: a driver that keeps the ring full is served in runs, then requeued", "[virtio-net]") {
    NetFixture f;
    unsigned requeued = 0;
    const auto a = NetFixture::frame(60);
    const uint64_t hdr = f.h.guest.put(header().data(), kHeader), data = f.h.guest.put(a.data(), a.size());
    // 300 chains over the same two buffers: more than one run takes.
    brig::virtio::testing::DriverRing ring(f.h.guest, 5, 512);
    f.h.queues[kTx] = brig::virtio::SplitQueue(f.h.guest.memory, ring.config(), 512, false);
    for (int i = 0; i < 300; ++i) ring.add({{hdr, kHeader, false}, {data, 60, false}});
    brig::virtio::QueueContext ctx{f.h.queues, f.h.guest.memory, [](unsigned) {},
                                   [&requeued](unsigned) { ++requeued; }};
    f.device->process_queue(kTx, ctx);
    CHECK(ring.used_idx() == brig::virtio::kChainsPerRun);
    CHECK(requeued == 1);
    f.device->process_queue(kTx, ctx);
    CHECK(ring.used_idx() == 300);
    CHECK(requeued == 1);
}

TEST_CASE("virtio-net rx: a TAP frame with offloads the driver did not accept never reaches it", "[virtio-net]") {
    NetFixture f;  // no GUEST_CSUM, no GUEST_TSO4
    const uint64_t buf = f.post_rx(kHeader + 1514);
    auto send_with_header = [&](uint8_t flags, uint8_t gso_type, uint8_t seed) {
        auto frame = NetFixture::frame(100, 0x0800, seed);
        std::vector<uint8_t> message(kHeader, 0);
        message[0] = flags;
        message[1] = gso_type;
        message.insert(message.end(), frame.begin(), frame.end());
        REQUIRE(::write(f.host.get(), message.data(), message.size()) == static_cast<ssize_t>(message.size()));
    };
    send_with_header(0, VirtioNet::kGsoTcpV4, 1);         // GSO: dropped
    send_with_header(VirtioNet::kHeaderNeedsCsum, 0, 2);  // partial checksum: dropped
    send_with_header(VirtioNet::kHeaderDataValid, 0, 3);  // delivered, flags cleared
    f.h.run(*f.device, kRx);
    REQUIRE(f.h.rings[kRx].used_idx() == 1);
    CHECK(f.h.guest.at(buf)[0] == 0);            // flags
    CHECK(f.h.guest.at(buf + kHeader)[0] == 3);  // the third frame
    CHECK(f.device->counters().rx_dropped == 2);
}
