// virtio-vsock's device: the rings on one side, unix socketpairs standing in for the
// host sockets brig's broker hands over on the other.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "device-procs/virtio/virtio_vsock.h"
#include "ipc/virtio/virtio_test_guest.h"

using brig::devices::Resources;
using brig::devices::Settings;
using brig::devices::VirtioVsock;
using brig::devices::vsock::Header;
using brig::devices::vsock::Op;
using brig::virtio::testing::QueueHarness;

namespace {

constexpr uint64_t kCid = 3;
constexpr unsigned kRx = VirtioVsock::kRxQueue;
constexpr unsigned kTx = VirtioVsock::kTxQueue;

struct Received {
    Header header;
    std::string payload;
};

struct VsockFixture {
    VsockFixture() {
        device.set_host_connector([this](uint32_t guest_port, uint32_t host_port) {
            asked.emplace_back(guest_port, host_port);
            return accept_requests;
        });
    }

    Header packet(Op op, uint32_t guest_port, uint32_t host_port, uint32_t len = 0) {
        Header h{};
        h.src_cid = kCid;
        h.dst_cid = 2;
        h.src_port = guest_port;
        h.dst_port = host_port;
        h.len = len;
        h.type = 1;
        h.op = static_cast<uint16_t>(op);
        h.buf_alloc = 1 << 20;
        h.fwd_cnt = fwd_cnt;
        return h;
    }
    void guest_sends(const Header& h, const std::string& payload = {}) {
        std::vector<uint8_t> bytes(sizeof h);
        std::memcpy(bytes.data(), &h, sizeof h);
        bytes.insert(bytes.end(), payload.begin(), payload.end());
        h_.rings[kTx].add({{h_.guest.put(bytes.data(), bytes.size()), static_cast<uint32_t>(bytes.size()), false}});
        h_.run(device, kTx);
    }
    void post_rx(unsigned count, uint32_t len = sizeof(Header) + 65536) {
        for (unsigned i = 0; i < count; ++i) {
            const uint64_t addr = h_.guest.alloc(len);
            rx_addr.push_back(addr);
            h_.rings[kRx].add({{addr, len, true}});
        }
    }
    // Every packet the device has put in the rx ring since the last call.
    std::vector<Received> received() {
        std::vector<Received> out;
        for (; seen < h_.rings[kRx].used_idx(); ++seen) {
            const auto used = h_.rings[kRx].used(seen);
            REQUIRE(used.len >= sizeof(Header));
            Received r;
            std::memcpy(&r.header, h_.guest.at(rx_addr[used.id]), sizeof r.header);
            r.payload.assign(reinterpret_cast<const char*>(h_.guest.at(rx_addr[used.id])) + sizeof(Header),
                             used.len - sizeof(Header));
            CHECK(r.header.len == r.payload.size());
            out.push_back(r);
        }
        return out;
    }
    // A host socket for the device; the test keeps the other end.
    base::UniqueFd host_pair(base::UniqueFd& device_end) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        device_end.reset(fds[0]);
        return base::UniqueFd(fds[1]);
    }
    // What the event thread does: poll the device's watches, hand it what is ready,
    // kick rx.
    void serve_host() {
        std::vector<VirtioVsock::Watch> watches;
        device.watches(watches);
        std::vector<pollfd> fds;
        for (const auto& w : watches) fds.push_back({w.fd, w.events, 0});
        if (fds.empty() || ::poll(fds.data(), fds.size(), 100) <= 0) return;
        for (const auto& p : fds)
            if (p.revents) device.on_ready(p.fd, p.revents);
        h_.run(device, kRx);
    }
    std::string host_reads(int fd) {
        char buf[70000];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    }

    // An established guest -> host connection from guest port 1234 to host port 5000.
    base::UniqueFd connect_guest_to_host() {
        guest_sends(packet(Op::Request, 1234, 5000));
        base::UniqueFd device_end;
        base::UniqueFd host = host_pair(device_end);
        device.host_connection(1234, 5000, std::move(device_end));
        h_.run(device, kRx);
        const auto got = received();
        REQUIRE(got.size() == 1);
        REQUIRE(got[0].header.op == static_cast<uint16_t>(Op::Response));
        return host;
    }

    QueueHarness h_{3};
    VirtioVsock device{kCid};
    std::vector<std::pair<uint32_t, uint32_t>> asked;
    bool accept_requests = true;
    uint32_t fwd_cnt = 0;
    std::vector<uint64_t> rx_addr;
    uint16_t seen = 0;
};

}  // namespace

TEST_CASE("virtio-vsock: config space holds the guest CID; create() wants a CID of 3 or more", "[vsock]") {
    VirtioVsock device(0x1234567);
    uint8_t config[8] = {};
    device.read_config(0, config);
    uint64_t cid;
    std::memcpy(&cid, config, 8);
    CHECK(cid == 0x1234567);
    CHECK(device.kind().queue_count == 3);
    CHECK(device.device_id() == 19);
    Resources none;
    CHECK_THROWS_WITH(VirtioVsock::create("v", none, {}), Catch::Contains("guest-cid"));
    CHECK_THROWS_WITH(VirtioVsock::create("v", none, Settings{{"guest-cid", "2"}}), Catch::Contains("not a guest CID"));
    CHECK_THROWS_WITH(VirtioVsock::create("v", none, Settings{{"guest-cid", "3x"}}),
                      Catch::Contains("not a guest CID"));
    CHECK(VirtioVsock::create("v", none, Settings{{"guest-cid", "3"}}) != nullptr);
}

TEST_CASE("virtio-vsock: a guest connection waits for brig, then data flows both ways", "[vsock]") {
    VsockFixture f;
    f.post_rx(8);
    f.guest_sends(f.packet(Op::Request, 1234, 5000));
    REQUIRE(f.asked.size() == 1);
    CHECK(f.asked[0] == std::make_pair(1234u, 5000u));
    f.h_.run(f.device, kRx);
    CHECK(f.received().empty());  // no answer before brig's

    base::UniqueFd device_end;
    base::UniqueFd host = f.host_pair(device_end);
    f.device.host_connection(1234, 5000, std::move(device_end));
    f.h_.run(f.device, kRx);
    auto got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Response));
    CHECK(got[0].header.src_port == 5000);
    CHECK(got[0].header.dst_port == 1234);
    CHECK(got[0].header.dst_cid == kCid);

    f.guest_sends(f.packet(Op::Rw, 1234, 5000, 5), "hello");
    CHECK(f.host_reads(host.get()) == "hello");

    REQUIRE(::write(host.get(), "world", 5) == 5);
    f.serve_host();
    got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Rw));
    CHECK(got[0].payload == "world");
    CHECK(f.device.counters().host_bytes_in == 5);
    CHECK(f.device.counters().host_bytes_out == 5);
}

TEST_CASE("virtio-vsock: nothing listening on the host: the guest gets RST", "[vsock]") {
    VsockFixture f;
    f.post_rx(4);
    f.guest_sends(f.packet(Op::Request, 1234, 5999));
    f.device.host_connection(1234, 5999, {});  // brig: no listener
    f.h_.run(f.device, kRx);
    auto got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Rst));
    CHECK(f.device.open_sockets() == 0);

    // The device's own refusal (brig's queue full): RST at once.
    f.accept_requests = false;
    f.guest_sends(f.packet(Op::Request, 1235, 5000));
    f.h_.run(f.device, kRx);
    got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Rst));
}

TEST_CASE("virtio-vsock: a host CONNECT gets OK with its port once the guest accepts", "[vsock]") {
    VsockFixture f;
    f.post_rx(4);
    base::UniqueFd device_end;
    base::UniqueFd host = f.host_pair(device_end);
    f.device.host_connection(6000, 0, std::move(device_end));
    f.h_.run(f.device, kRx);
    auto got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Request));
    CHECK(got[0].header.dst_port == 6000);
    const uint32_t host_port = got[0].header.src_port;
    CHECK(host_port >= (1u << 30));
    CHECK(f.host_reads(host.get()).empty());  // no OK before the guest accepted

    f.guest_sends(f.packet(Op::Response, 6000, host_port));
    CHECK(f.host_reads(host.get()) == "OK " + std::to_string(host_port) + "\n");
}

TEST_CASE("virtio-vsock: a host CONNECT the guest refuses closes the host's socket", "[vsock]") {
    VsockFixture f;
    f.post_rx(4);
    base::UniqueFd device_end;
    base::UniqueFd host = f.host_pair(device_end);
    f.device.host_connection(9, 0, std::move(device_end));
    f.h_.run(f.device, kRx);
    const uint32_t host_port = f.received().at(0).header.src_port;
    f.guest_sends(f.packet(Op::Rst, 9, host_port));
    char c;
    CHECK(::recv(host.get(), &c, 1, MSG_DONTWAIT) == 0);  // end of file, no OK
    CHECK(f.device.open_sockets() == 0);
}

TEST_CASE("virtio-vsock: the host's close and half-close reach the guest as SHUTDOWN", "[vsock]") {
    VsockFixture f;
    f.post_rx(8);
    base::UniqueFd host = f.connect_guest_to_host();

    ::shutdown(host.get(), SHUT_WR);  // sends no more, still reads
    f.serve_host();
    auto got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Shutdown));
    CHECK(got[0].header.flags == 2);
    f.guest_sends(f.packet(Op::Rw, 1234, 5000, 3), "sum");
    CHECK(f.host_reads(host.get()) == "sum");

    host.reset();                                         // gone
    f.guest_sends(f.packet(Op::Rw, 1234, 5000, 1), "x");  // EPIPE
    f.h_.run(f.device, kRx);
    got = f.received();
    REQUIRE(!got.empty());
    CHECK(got.back().header.op == static_cast<uint16_t>(Op::Shutdown));
    CHECK(got.back().header.flags == 3);
}

TEST_CASE("virtio-vsock: the guest's SHUTDOWN(send) half-closes the host socket", "[vsock]") {
    VsockFixture f;
    f.post_rx(8);
    base::UniqueFd host = f.connect_guest_to_host();
    f.guest_sends(f.packet(Op::Rw, 1234, 5000, 4), "data");
    Header shut = f.packet(Op::Shutdown, 1234, 5000);
    shut.flags = 2;
    f.guest_sends(shut);
    CHECK(f.host_reads(host.get()) == "data");
    char c;
    CHECK(::recv(host.get(), &c, 1, MSG_DONTWAIT) == 0);  // end of file
    REQUIRE(::write(host.get(), "reply", 5) == 5);        // and the host still answers
    f.serve_host();
    const auto got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].payload == "reply");
}

TEST_CASE("virtio-vsock: a packet larger than the driver's buffers goes in pieces", "[vsock]") {
    VsockFixture f;
    f.post_rx(1);
    base::UniqueFd host = f.connect_guest_to_host();
    f.post_rx(8, sizeof(Header) + 4096);
    std::string data(10000, 'a');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    REQUIRE(::write(host.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    f.serve_host();
    std::string joined;
    for (const auto& r : f.received()) {
        CHECK(r.header.op == static_cast<uint16_t>(Op::Rw));
        CHECK(r.payload.size() <= 4096);
        joined += r.payload;
    }
    CHECK(joined == data);
}

TEST_CASE("virtio-vsock: hostile chains are dropped, hostile packets answered RST", "[vsock]") {
    VsockFixture f;
    f.post_rx(8);
    // A chain shorter than a header: dropped, counted, no answer, no NEEDS_RESET.
    uint8_t shorty[20] = {};
    f.h_.rings[kTx].add({{f.h_.guest.put(shorty, sizeof shorty), sizeof shorty, false}});
    f.h_.run(f.device, kTx);
    CHECK(f.device.counters().dropped_chains == 1);
    CHECK(f.received().empty());
    // RW on a connection that does not exist.
    f.guest_sends(f.packet(Op::Rw, 77, 88, 2), "hi");
    auto got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Rst));
    // A huge len on a real connection: RST, and its socket closes.
    base::UniqueFd host = f.connect_guest_to_host();
    f.guest_sends(f.packet(Op::Rw, 1234, 5000, 0xffffffff));
    got = f.received();
    REQUIRE(got.size() == 1);
    CHECK(got[0].header.op == static_cast<uint16_t>(Op::Rst));
    CHECK(f.device.muxer().counters().bad_packets == 2);
}

TEST_CASE("virtio-vsock: the host socket is read only while the guest has credit", "[vsock]") {
    VsockFixture f;
    f.post_rx(32);
    base::UniqueFd host = f.connect_guest_to_host();
    // The guest says it has 4096 bytes of buffer in all.
    Header credit = f.packet(Op::CreditUpdate, 1234, 5000);
    credit.buf_alloc = 4096;
    f.guest_sends(credit);
    f.h_.run(f.device, kRx);
    f.received();
    std::string data(20000, 'z');
    REQUIRE(::write(host.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    for (int i = 0; i < 4; ++i) f.serve_host();
    size_t delivered = 0;
    for (const auto& r : f.received()) delivered += r.payload.size();
    CHECK(delivered == 4096);
    std::vector<VirtioVsock::Watch> watches;
    f.device.watches(watches);
    CHECK(watches.empty());  // nothing more is read until the guest frees some
}

TEST_CASE("virtio-vsock: a device reset closes every host socket", "[vsock]") {
    VsockFixture f;
    f.post_rx(4);
    base::UniqueFd host = f.connect_guest_to_host();
    CHECK(f.device.open_sockets() == 1);
    f.device.reset();
    CHECK(f.device.open_sockets() == 0);
    char c;
    CHECK(::recv(host.get(), &c, 1, MSG_DONTWAIT) == 0);
}

TEST_CASE("virtio-vsock: a guest that takes no packets stops being read, and goes on once it does", "[vsock]") {
    VsockFixture f;
    f.post_rx(1);
    base::UniqueFd host = f.connect_guest_to_host();
    // CREDIT_REQUESTs, each answered with a CREDIT_UPDATE, and no receive buffer for them.
    // As a driver would: never more chains outstanding than the ring holds.
    unsigned sent = 1;  // the REQUEST
    while (sent < 1200 && sent - f.h_.rings[kTx].used_idx() < 60) {
        f.guest_sends(f.packet(Op::CreditRequest, 1234, 5000));
        ++sent;
    }
    const uint16_t taken = f.h_.rings[kTx].used_idx();
    CHECK(sent - taken == 60);  // the ring is full and waits
    // The REQUEST, the answers that fill the backlog, and the one the device holds for
    // the next receive buffer.
    CHECK(static_cast<size_t>(taken) == 1 + brig::devices::vsock::kMaxPendingReplies + 1);
    CHECK(f.device.muxer().counters().dropped_replies == 0);
    // Buffers for every answer: the device drains them, then takes the rest of the ring.
    for (int round = 0; round < 40 && f.h_.rings[kTx].used_idx() < sent; ++round) {
        f.post_rx(60, sizeof(Header) + 64);
        f.h_.run(f.device, kRx);
        CHECK(f.received().size() == 60);
    }
    CHECK(f.h_.rings[kTx].used_idx() == static_cast<uint16_t>(sent));
    CHECK(f.device.muxer().counters().dropped_replies == 0);
}
