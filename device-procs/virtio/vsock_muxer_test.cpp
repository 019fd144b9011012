// The vsock connection table: routing, refusals and the hostile packets of issue 11.
#include "device-procs/virtio/vsock_muxer.h"

#include <catch2/catch.hpp>
#include <set>
#include <vector>

using namespace brig::devices::vsock;

namespace {

constexpr uint64_t kGuestCid = 7;

Header packet(Op op, uint32_t src_port, uint32_t dst_port, uint32_t len = 0) {
    Header h{};
    h.src_cid = kGuestCid;
    h.dst_cid = kHostCid;
    h.src_port = src_port;
    h.dst_port = dst_port;
    h.len = len;
    h.type = kTypeStream;
    h.op = static_cast<uint16_t>(op);
    h.buf_alloc = 65536;
    return h;
}

std::vector<Header> drain(Muxer& m) {
    std::vector<Header> out;
    while (auto p = m.next_for_guest()) out.push_back(p->header);
    return out;
}

// Something listens on host ports 1000 and 1001.
Muxer muxer() {
    return Muxer(kGuestCid, [](uint32_t host_port, uint32_t) { return host_port == 1000 || host_port == 1001; });
}

}  // namespace

TEST_CASE("vsock table: a guest REQUEST to a listening host port is accepted, elsewhere reset", "[vsock]") {
    auto m = muxer();
    m.on_guest_packet(packet(Op::Request, 5000, 1000), nullptr, 0);
    m.on_guest_packet(packet(Op::Request, 5001, 2222), nullptr, 0);
    const auto out = drain(m);
    REQUIRE(out.size() == 2);
    // The table's own replies go first; each answers its packet, with the ports swapped.
    const Header& rst = out[0];
    const Header& response = out[1];
    CHECK(static_cast<Op>(response.op) == Op::Response);
    CHECK(response.dst_port == 5000);
    CHECK(response.src_port == 1000);
    CHECK(static_cast<Op>(rst.op) == Op::Rst);
    CHECK(rst.dst_port == 5001);
    CHECK(rst.src_port == 2222);
    CHECK(m.find(5000, 1000) != nullptr);
    CHECK(m.find(5001, 2222) == nullptr);
    CHECK(m.counters().refused_requests == 1);
}

TEST_CASE("vsock table: hostile packets are answered RST and reach no connection", "[vsock]") {
    auto m = muxer();
    m.on_guest_packet(packet(Op::Request, 5000, 1000), nullptr, 0);
    drain(m);
    std::vector<uint8_t> data(100, 1);

    Header wrong_cid = packet(Op::Rw, 5000, 1000, 10);
    wrong_cid.src_cid = 99;  // not the guest's CID
    Header to_guest = packet(Op::Rw, 5000, 1000, 10);
    to_guest.dst_cid = 5;  // not the host
    Header dgram = packet(Op::Rw, 5000, 1000, 10);
    dgram.type = 2;
    Header unknown = packet(Op::Rw, 5000, 1000);
    unknown.op = 99;
    const Header huge = packet(Op::Rw, 5000, 1000, 0xffffffff);
    const Header past_chain = packet(Op::Rw, 5000, 1000, 100);  // the chain holds fewer bytes
    const Header no_connection = packet(Op::Rw, 6000, 1000, 10);
    const Header request_with_data = packet(Op::Request, 6001, 1000, 10);
    for (const Header& h : {wrong_cid, to_guest, dgram, unknown, huge, no_connection, request_with_data})
        m.on_guest_packet(h, data.data(), data.size());
    m.on_guest_packet(past_chain, data.data(), 50);
    CHECK(m.counters().bad_packets == 8);
    const auto out = drain(m);
    CHECK(out.size() == 8);
    for (const auto& h : out) CHECK(static_cast<Op>(h.op) == Op::Rst);
    // The real connection saw none of it.
    Connection* c = m.find(5000, 1000);
    REQUIRE(c != nullptr);
    CHECK(c->to_host().empty());
    CHECK(c->state() == Connection::State::Established);
    // An RST for nothing is not answered.
    m.on_guest_packet(packet(Op::Rst, 6000, 1000), nullptr, 0);
    CHECK(drain(m).empty());
}

TEST_CASE("vsock table: the connection count and the pending replies are bounded", "[vsock]") {
    Muxer m(kGuestCid, [](uint32_t, uint32_t) { return true; });
    for (uint32_t p = 0; p < kMaxConnections + 10; ++p)
        m.on_guest_packet(packet(Op::Request, 10000 + p, 80), nullptr, 0);
    CHECK(m.connections().size() == kMaxConnections);
    CHECK(m.counters().refused_requests == 10);
    CHECK_FALSE(m.connect_from_host(22));
    drain(m);
    for (size_t i = 0; i < kMaxPendingReplies + 50; ++i) m.on_guest_packet(packet(Op::Rw, 1, 1, 0), nullptr, 0);
    CHECK(m.counters().dropped_replies == 50);
    CHECK(drain(m).size() == kMaxPendingReplies);
}

TEST_CASE("vsock table: host connections get distinct ports, closed ones are forgotten, turns are fair", "[vsock]") {
    auto m = muxer();
    const auto a = m.connect_from_host(80), b = m.connect_from_host(80);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
    auto out = drain(m);
    REQUIRE(out.size() == 2);
    CHECK(static_cast<Op>(out[0].op) == Op::Request);
    // The guest accepts a, refuses b.
    Header response = packet(Op::Response, 80, *a);
    m.on_guest_packet(response, nullptr, 0);
    m.on_guest_packet(packet(Op::Rst, 80, *b), nullptr, 0);
    m.forget_closed();
    CHECK(m.find(80, *a) != nullptr);
    CHECK(m.find(80, *b) == nullptr);
    // Two busy connections take turns.
    m.on_guest_packet(packet(Op::Request, 5000, 1000), nullptr, 0);
    drain(m);
    std::vector<uint8_t> data(10, 1);
    for (int i = 0; i < 3; ++i) {
        m.find(80, *a)->from_host(data.data(), data.size());
        m.find(5000, 1000)->from_host(data.data(), data.size());
    }
    out = drain(m);
    REQUIRE(out.size() == 6);
    for (size_t i = 1; i < out.size(); ++i) CHECK(out[i].dst_port != out[i - 1].dst_port);
}
