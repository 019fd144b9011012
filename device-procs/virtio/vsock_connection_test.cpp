// One vsock stream connection's state machine and credit accounting (virtio 1.2, 5.10.6).
#include "device-procs/virtio/vsock_connection.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace brig::devices::vsock;

namespace {

constexpr uint64_t kGuestCid = 3;
constexpr uint32_t kGuestPort = 1234;
constexpr uint32_t kHostPort = 5000;

Header from_guest(Op op, uint32_t len = 0, uint32_t flags = 0, uint32_t buf_alloc = 4096, uint32_t fwd_cnt = 0) {
    Header h{};
    h.src_cid = kGuestCid;
    h.dst_cid = kHostCid;
    h.src_port = kGuestPort;
    h.dst_port = kHostPort;
    h.len = len;
    h.type = kTypeStream;
    h.op = static_cast<uint16_t>(op);
    h.flags = flags;
    h.buf_alloc = buf_alloc;
    h.fwd_cnt = fwd_cnt;
    return h;
}

// The ops in the outbox, taken out.
std::vector<Op> drain(Connection& c) {
    std::vector<Op> ops;
    for (const auto& p : c.outbox()) ops.push_back(static_cast<Op>(p.header.op));
    c.outbox().clear();
    return ops;
}

Connection established(uint32_t guest_buf_alloc = 4096) {
    auto c = Connection::accept_guest(kGuestCid, from_guest(Op::Request, 0, 0, guest_buf_alloc), kHostPort);
    drain(c);
    return c;
}

}  // namespace

TEST_CASE("vsock: a guest REQUEST is answered RESPONSE with the device's credit and addresses", "[vsock]") {
    auto c = Connection::accept_guest(kGuestCid, from_guest(Op::Request, 0, 0, 8192), kHostPort);
    REQUIRE(c.outbox().size() == 1);
    const Header& h = c.outbox().front().header;
    CHECK(static_cast<Op>(h.op) == Op::Response);
    CHECK(h.src_cid == kHostCid);
    CHECK(h.dst_cid == kGuestCid);
    CHECK(h.src_port == kHostPort);
    CHECK(h.dst_port == kGuestPort);
    CHECK(h.type == kTypeStream);
    CHECK(h.buf_alloc == kDeviceBufAlloc);
    CHECK(h.fwd_cnt == 0);
    CHECK(c.state() == Connection::State::Established);
    CHECK(c.peer_buf_alloc() == 8192);
}

TEST_CASE("vsock: a host-initiated connection waits for RESPONSE; RST or anything else ends it", "[vsock]") {
    auto c = Connection::connect_guest(kGuestCid, 80, kHostPort);
    CHECK(drain(c) == std::vector<Op>{Op::Request});
    CHECK(c.state() == Connection::State::Connecting);
    CHECK(c.host_read_allowance() == 0);
    CHECK(c.on_guest_packet(from_guest(Op::Response), nullptr));
    CHECK(c.state() == Connection::State::Established);
    CHECK(c.host_read_allowance() == 4096);

    auto refused = Connection::connect_guest(kGuestCid, 81, kHostPort);
    drain(refused);
    CHECK_FALSE(refused.on_guest_packet(from_guest(Op::Rst), nullptr));
    CHECK(refused.state() == Connection::State::Closed);
    CHECK(drain(refused).empty());  // no RST answers an RST

    auto confused = Connection::connect_guest(kGuestCid, 82, kHostPort);
    drain(confused);
    const uint8_t byte = 1;
    CHECK_FALSE(confused.on_guest_packet(from_guest(Op::Rw, 1), &byte));
    CHECK(drain(confused) == std::vector<Op>{Op::Rst});
}

TEST_CASE("vsock: guest data within the device's credit goes to the host; past it is a lie and RST", "[vsock]") {
    auto c = established();
    std::vector<uint8_t> data(1000, 7);
    CHECK(c.on_guest_packet(from_guest(Op::Rw, 1000), data.data()));
    CHECK(c.to_host().size() == 1000);
    c.forwarded_to_host(600);
    CHECK(c.fwd_cnt() == 600);
    CHECK(c.to_host().size() == 400);
    // Fill the device's buffer to the byte, then one more.
    std::vector<uint8_t> big(kDeviceBufAlloc - 400, 1);
    CHECK(c.on_guest_packet(from_guest(Op::Rw, static_cast<uint32_t>(big.size())), big.data()));
    CHECK(c.to_host().size() == kDeviceBufAlloc);
    const uint8_t byte = 1;
    CHECK_FALSE(c.on_guest_packet(from_guest(Op::Rw, 1), &byte));
    CHECK(drain(c) == std::vector<Op>{Op::Rst});
    CHECK(c.state() == Connection::State::Closed);
    CHECK(c.to_host().empty());
}

TEST_CASE("vsock: the guest hears of freed space once a quarter of the buffer is forwarded", "[vsock]") {
    auto c = established();
    std::vector<uint8_t> data(kDeviceBufAlloc, 2);
    REQUIRE(c.on_guest_packet(from_guest(Op::Rw, kDeviceBufAlloc), data.data()));
    c.forwarded_to_host(kDeviceBufAlloc / 4 - 1);
    CHECK(drain(c).empty());
    c.forwarded_to_host(1);
    REQUIRE(c.outbox().size() == 1);
    CHECK(static_cast<Op>(c.outbox().front().header.op) == Op::CreditUpdate);
    CHECK(c.outbox().front().header.fwd_cnt == kDeviceBufAlloc / 4);
    drain(c);
    CHECK(c.on_guest_packet(from_guest(Op::CreditRequest), nullptr));
    CHECK(drain(c) == std::vector<Op>{Op::CreditUpdate});
}

TEST_CASE("vsock: host data goes to the guest only within the guest's credit", "[vsock]") {
    auto c = established(1000);
    CHECK(c.host_read_allowance() == 1000);
    std::vector<uint8_t> data(1500, 3);
    c.from_host(data.data(), data.size());  // takes what the credit allows
    REQUIRE(c.outbox().size() == 1);
    CHECK(c.outbox().front().header.len == 1000);
    CHECK(c.outbox().front().payload.size() == 1000);
    CHECK(c.tx_cnt() == 1000);
    CHECK(c.host_read_allowance() == 0);  // the host socket is not read again
    drain(c);
    // The guest forwards 400 and says so.
    CHECK(c.on_guest_packet(from_guest(Op::CreditUpdate, 0, 0, 1000, 400), nullptr));
    CHECK(c.host_read_allowance() == 400);
    // A larger buffer raises the credit; a payload never exceeds kMaxPayload.
    CHECK(c.on_guest_packet(from_guest(Op::CreditUpdate, 0, 0, 10 * kMaxPayload, 400), nullptr));
    CHECK(c.host_read_allowance() == kMaxPayload);
    // A smaller one than what is in flight: no credit, not a wrap to a huge one.
    CHECK(c.on_guest_packet(from_guest(Op::CreditUpdate, 0, 0, 100, 400), nullptr));
    CHECK(c.host_read_allowance() == 0);
}

TEST_CASE("vsock: a guest that lies about fwd_cnt is reset", "[vsock]") {
    SECTION("forwarded more than it was sent") {
        auto c = established();
        CHECK_FALSE(c.on_guest_packet(from_guest(Op::CreditUpdate, 0, 0, 4096, 10), nullptr));
        CHECK(drain(c) == std::vector<Op>{Op::Rst});
    }
    SECTION("fwd_cnt going back") {
        auto c = established();
        std::vector<uint8_t> data(100, 1);
        c.from_host(data.data(), data.size());
        drain(c);
        CHECK(c.on_guest_packet(from_guest(Op::CreditUpdate, 0, 0, 4096, 80), nullptr));
        CHECK_FALSE(c.on_guest_packet(from_guest(Op::CreditUpdate, 0, 0, 4096, 50), nullptr));
        CHECK(drain(c) == std::vector<Op>{Op::Rst});
    }
}

TEST_CASE("vsock: SHUTDOWN one way, then both; the host closing; unknown ops", "[vsock]") {
    SECTION("the guest stops sending: data after that is a lie") {
        auto c = established();
        CHECK(c.on_guest_packet(from_guest(Op::Shutdown, 0, kShutdownSend), nullptr));
        CHECK(c.state() == Connection::State::Established);
        CHECK(c.guest_done_sending());
        CHECK(c.host_read_allowance() > 0);  // the other direction still flows
        const uint8_t byte = 1;
        CHECK_FALSE(c.on_guest_packet(from_guest(Op::Rw, 1), &byte));
        CHECK(drain(c) == std::vector<Op>{Op::Rst});
    }
    SECTION("the guest stops receiving: the host socket is not read") {
        auto c = established();
        CHECK(c.on_guest_packet(from_guest(Op::Shutdown, 0, kShutdownReceive), nullptr));
        CHECK(c.host_read_allowance() == 0);
    }
    SECTION("both, with data still for the host: RST once it is delivered") {
        auto c = established();
        std::vector<uint8_t> data(10, 1);
        REQUIRE(c.on_guest_packet(from_guest(Op::Rw, 10), data.data()));
        CHECK(c.on_guest_packet(from_guest(Op::Shutdown, 0, kShutdownSend | kShutdownReceive), nullptr));
        CHECK(c.state() == Connection::State::Established);
        c.forwarded_to_host(10);
        CHECK(drain(c) == std::vector<Op>{Op::Rst});
        CHECK(c.state() == Connection::State::Closed);
    }
    SECTION("the host closes: SHUTDOWN both ways to the guest, and no more reads") {
        auto c = established();
        c.host_closed();
        REQUIRE(c.outbox().size() == 1);
        CHECK(static_cast<Op>(c.outbox().front().header.op) == Op::Shutdown);
        CHECK(c.outbox().front().header.flags == (kShutdownSend | kShutdownReceive));
        CHECK(c.host_read_allowance() == 0);
    }
    SECTION("REQUEST on an open connection, and an op that does not exist") {
        auto c = established();
        CHECK_FALSE(c.on_guest_packet(from_guest(Op::Request), nullptr));
        CHECK(drain(c) == std::vector<Op>{Op::Rst});
        auto d = established();
        CHECK_FALSE(d.on_guest_packet(from_guest(static_cast<Op>(42)), nullptr));
        CHECK(drain(d) == std::vector<Op>{Op::Rst});
    }
}
