#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "device-procs/virtio/virtio_blk.h"
#include "device-procs/virtio/virtio_console.h"
#include "device-procs/virtio/virtio_rng.h"
#include "ipc/virtio/virtio_test_guest.h"

using brig::devices::VirtioBlk;
using brig::devices::VirtioConsole;
using brig::devices::VirtioRng;
using brig::virtio::QueueContext;
using brig::virtio::QueueError;
using brig::virtio::SplitQueue;
using brig::virtio::testing::DriverRing;
using brig::virtio::testing::FakeGuest;
using brig::virtio::testing::Seg;

namespace {

using Harness = brig::virtio::testing::QueueHarness;

struct TempDisk {
    explicit TempDisk(size_t bytes) {
        char name[] = "/tmp/brig-virtio-blk-test-XXXXXX";
        fd = base::UniqueFd(mkstemp(name));
        REQUIRE(fd.valid());
        path = name;
        REQUIRE(ftruncate(fd.get(), static_cast<off_t>(bytes)) == 0);
    }
    ~TempDisk() { unlink(path.c_str()); }
    base::UniqueFd open_fd(int flags) const { return base::UniqueFd(::open(path.c_str(), flags | O_CLOEXEC)); }

    base::UniqueFd fd;
    std::string path;
};

struct BlkHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct Request {
    uint64_t status_addr;
    uint64_t data_addr;
};

// header | data (readable for OUT, writable for IN, none when len is 0) | status
Request add_request(Harness& h, uint32_t type, uint64_t sector, uint32_t len, bool data_writable,
                    const std::vector<uint8_t>& data = {}) {
    const BlkHeader header{type, 0, sector};
    std::vector<Seg> segs{{h.guest.put(&header, sizeof header), sizeof header, false}};
    Request r{0, 0};
    if (len > 0) {
        r.data_addr = h.guest.alloc(len);
        if (!data.empty()) std::memcpy(h.guest.at(r.data_addr), data.data(), std::min<size_t>(len, data.size()));
        segs.push_back({r.data_addr, len, data_writable});
    }
    r.status_addr = h.guest.alloc(1);
    *h.guest.at(r.status_addr) = 0xff;
    segs.push_back({r.status_addr, 1, true});
    h.rings[0].add(segs);
    return r;
}

std::vector<uint8_t> pattern(size_t len, uint8_t seed) {
    std::vector<uint8_t> v(len);
    for (size_t i = 0; i < len; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

uint64_t config_u64(VirtioBlk& blk, uint32_t offset) {
    uint64_t v = 0;
    blk.read_config(offset, std::span(reinterpret_cast<uint8_t*>(&v), sizeof v));
    return v;
}

}  // namespace

TEST_CASE("virtio-blk writes a pattern to the disk and reads it back", "[virtio-dev]") {
    TempDisk disk(1 << 20);
    VirtioBlk blk(disk.open_fd(O_RDWR), "brig-blk0");
    CHECK(blk.device_id() == 2);
    CHECK(!blk.read_only());
    CHECK(config_u64(blk, 0) == (1 << 20) / 512);
    CHECK((blk.device_features() & (1ull << VirtioBlk::kFeatureRo)) == 0);
    CHECK((blk.device_features() & (1ull << VirtioBlk::kFeatureFlush)) != 0);

    Harness h(1);
    const auto data = pattern(1024, 3);
    const auto out = add_request(h, VirtioBlk::kTypeOut, 2, 1024, false, data);
    h.run(blk, 0);
    CHECK(*h.guest.at(out.status_addr) == VirtioBlk::kStatusOk);
    REQUIRE(h.rings[0].used_idx() == 1);
    CHECK(h.rings[0].used(0).len == 1);
    CHECK(h.signals[0] == 1);

    std::vector<uint8_t> on_disk(1024);
    REQUIRE(pread(disk.fd.get(), on_disk.data(), on_disk.size(), 1024) == 1024);
    CHECK(on_disk == data);

    const auto in = add_request(h, VirtioBlk::kTypeIn, 2, 1024, true);
    h.run(blk, 0);
    CHECK(*h.guest.at(in.status_addr) == VirtioBlk::kStatusOk);
    REQUIRE(h.rings[0].used_idx() == 2);
    CHECK(h.rings[0].used(1).len == 1025);
    CHECK(std::memcmp(h.guest.at(in.data_addr), data.data(), data.size()) == 0);
}

TEST_CASE("virtio-blk serves every available chain and interrupts once", "[virtio-dev]") {
    TempDisk disk(64 * 1024);
    VirtioBlk blk(disk.open_fd(O_RDWR), "x");
    Harness h(1);
    std::vector<Request> reqs;
    for (int i = 0; i < 4; ++i) reqs.push_back(add_request(h, VirtioBlk::kTypeOut, i, 512, false, pattern(512, i)));
    h.run(blk, 0);
    CHECK(h.rings[0].used_idx() == 4);
    CHECK(h.signals[0] == 1);
    for (auto& r : reqs) CHECK(*h.guest.at(r.status_addr) == VirtioBlk::kStatusOk);
}

TEST_CASE("virtio-blk: data and status in one writable buffer", "[virtio-dev]") {
    TempDisk disk(64 * 1024);
    const auto data = pattern(512, 9);
    REQUIRE(pwrite(disk.fd.get(), data.data(), data.size(), 512) == 512);
    VirtioBlk blk(disk.open_fd(O_RDWR), "x");
    Harness h(1);
    const BlkHeader header{VirtioBlk::kTypeIn, 0, 1};
    const uint64_t buf = h.guest.alloc(513);
    h.rings[0].add({{h.guest.put(&header, sizeof header), sizeof header, false}, {buf, 513, true}});
    h.run(blk, 0);
    CHECK(std::memcmp(h.guest.at(buf), data.data(), 512) == 0);
    CHECK(*h.guest.at(buf + 512) == VirtioBlk::kStatusOk);
    CHECK(h.rings[0].used(0).len == 513);
}

TEST_CASE("virtio-blk on a read-only disk offers RO and refuses writes", "[virtio-dev]") {
    TempDisk disk(64 * 1024);
    VirtioBlk blk(disk.open_fd(O_RDONLY), "x");
    CHECK(blk.read_only());
    CHECK((blk.device_features() & (1ull << VirtioBlk::kFeatureRo)) != 0);
    CHECK((blk.device_features() & (1ull << VirtioBlk::kFeatureDiscard)) == 0);
    CHECK((blk.device_features() & (1ull << VirtioBlk::kFeatureWriteZeroes)) == 0);

    Harness h(1);
    const auto out = add_request(h, VirtioBlk::kTypeOut, 0, 512, false, pattern(512, 1));
    const auto zeroes = add_request(h, VirtioBlk::kTypeWriteZeroes, 0, 0, false);
    const auto in = add_request(h, VirtioBlk::kTypeIn, 0, 512, true);
    h.run(blk, 0);
    CHECK(*h.guest.at(out.status_addr) == VirtioBlk::kStatusIoErr);
    CHECK(*h.guest.at(zeroes.status_addr) == VirtioBlk::kStatusIoErr);
    CHECK(*h.guest.at(in.status_addr) == VirtioBlk::kStatusOk);
    std::vector<uint8_t> on_disk(512, 0xaa);
    REQUIRE(pread(disk.fd.get(), on_disk.data(), on_disk.size(), 0) == 512);
    CHECK(on_disk == std::vector<uint8_t>(512, 0));
}

TEST_CASE("virtio-blk refuses requests outside the disk and unaligned lengths", "[virtio-dev]") {
    TempDisk disk(64 * 1024);  // 128 sectors
    VirtioBlk blk(disk.open_fd(O_RDWR), "x");
    Harness h(1);
    const auto past_end = add_request(h, VirtioBlk::kTypeIn, 127, 1024, true);
    const auto at_end = add_request(h, VirtioBlk::kTypeIn, 126, 1024, true);
    const auto overflow = add_request(h, VirtioBlk::kTypeOut, std::numeric_limits<uint64_t>::max() / 512 + 1, 512,
                                      false, pattern(512, 0));
    const auto wraps = add_request(h, VirtioBlk::kTypeIn, std::numeric_limits<uint64_t>::max(), 512, true);
    const auto unaligned = add_request(h, VirtioBlk::kTypeOut, 0, 100, false, pattern(100, 0));
    const auto write_past = add_request(h, VirtioBlk::kTypeOut, 128, 512, false, pattern(512, 0));
    h.run(blk, 0);
    CHECK(*h.guest.at(past_end.status_addr) == VirtioBlk::kStatusIoErr);
    CHECK(*h.guest.at(at_end.status_addr) == VirtioBlk::kStatusOk);
    CHECK(*h.guest.at(overflow.status_addr) == VirtioBlk::kStatusIoErr);
    CHECK(*h.guest.at(wraps.status_addr) == VirtioBlk::kStatusIoErr);
    CHECK(*h.guest.at(unaligned.status_addr) == VirtioBlk::kStatusIoErr);
    CHECK(*h.guest.at(write_past.status_addr) == VirtioBlk::kStatusIoErr);
    struct stat st {};
    REQUIRE(fstat(disk.fd.get(), &st) == 0);
    CHECK(st.st_size == 64 * 1024);  // nothing written past the end
}

TEST_CASE("virtio-blk flush, GET_ID and unknown requests", "[virtio-dev]") {
    TempDisk disk(64 * 1024);
    VirtioBlk blk(disk.open_fd(O_RDWR), "brig-blk0");
    Harness h(1);
    const auto flush = add_request(h, VirtioBlk::kTypeFlush, 0, 0, false);
    const auto id = add_request(h, VirtioBlk::kTypeGetId, 0, 20, true);
    const auto unknown = add_request(h, 99, 0, 0, false);
    h.run(blk, 0);
    CHECK(*h.guest.at(flush.status_addr) == VirtioBlk::kStatusOk);
    CHECK(*h.guest.at(id.status_addr) == VirtioBlk::kStatusOk);
    char expected[20] = "brig-blk0";
    CHECK(std::memcmp(h.guest.at(id.data_addr), expected, 20) == 0);
    CHECK(h.rings[0].used(1).len == 21);
    CHECK(*h.guest.at(unknown.status_addr) == VirtioBlk::kStatusUnsupp);
}

TEST_CASE("virtio-blk: a chain without a status byte is a QueueError", "[virtio-dev]") {
    TempDisk disk(64 * 1024);
    VirtioBlk blk(disk.open_fd(O_RDWR), "x");
    Harness h(1);
    const auto good = add_request(h, VirtioBlk::kTypeFlush, 0, 0, false);
    const BlkHeader header{VirtioBlk::kTypeOut, 0, 0};
    const uint64_t data = h.guest.alloc(512);
    h.rings[0].add({{h.guest.put(&header, sizeof header), sizeof header, false}, {data, 512, false}});
    CHECK_THROWS_AS(h.run(blk, 0), QueueError);
    // What was done before the bad chain was still returned, with its interrupt.
    CHECK(*h.guest.at(good.status_addr) == VirtioBlk::kStatusOk);
    CHECK(h.rings[0].used_idx() == 1);
    CHECK(h.signals[0] == 1);
}

TEST_CASE("virtio-blk write zeroes and discard", "[virtio-dev]") {
    TempDisk disk(64 * 1024);
    const auto data = pattern(8192, 5);
    REQUIRE(pwrite(disk.fd.get(), data.data(), data.size(), 0) == 8192);
    VirtioBlk blk(disk.open_fd(O_RDWR), "x");
    Harness h(1);
    struct Segment {
        uint64_t sector;
        uint32_t sectors;
        uint32_t flags;
    };
    auto add = [&](uint32_t type, Segment seg) {
        const BlkHeader header{type, 0, 0};
        const uint64_t status = h.guest.alloc(1);
        h.rings[0].add({{h.guest.put(&header, sizeof header), sizeof header, false},
                        {h.guest.put(&seg, sizeof seg), sizeof seg, false},
                        {status, 1, true}});
        return status;
    };
    const uint64_t zero = add(VirtioBlk::kTypeWriteZeroes, {2, 4, 0});  // bytes 1024..3071
    const uint64_t discard = add(VirtioBlk::kTypeDiscard, {8, 8, 0});   // bytes 4096..8191
    const uint64_t bad_flags = add(VirtioBlk::kTypeDiscard, {0, 1, 0x2});
    const uint64_t past_end = add(VirtioBlk::kTypeWriteZeroes, {127, 2, 0});
    h.run(blk, 0);
    const uint8_t zs = *h.guest.at(zero);
    REQUIRE((zs == VirtioBlk::kStatusOk || zs == VirtioBlk::kStatusUnsupp));
    if (zs == VirtioBlk::kStatusOk) {
        std::vector<uint8_t> now(8192);
        REQUIRE(pread(disk.fd.get(), now.data(), now.size(), 0) == 8192);
        CHECK(std::memcmp(now.data(), data.data(), 1024) == 0);
        CHECK(std::all_of(now.begin() + 1024, now.begin() + 3072, [](uint8_t b) { return b == 0; }));
        CHECK(std::memcmp(now.data() + 3072, data.data() + 3072, 1024) == 0);
    }
    const uint8_t ds = *h.guest.at(discard);
    CHECK((ds == VirtioBlk::kStatusOk || ds == VirtioBlk::kStatusUnsupp));
    CHECK(*h.guest.at(bad_flags) == VirtioBlk::kStatusUnsupp);
    CHECK(*h.guest.at(past_end) == VirtioBlk::kStatusIoErr);
    struct stat st {};
    REQUIRE(fstat(disk.fd.get(), &st) == 0);
    CHECK(st.st_size == 64 * 1024);
}

TEST_CASE("virtio-rng fills the driver's buffers", "[virtio-dev]") {
    VirtioRng rng;
    CHECK(rng.device_id() == 4);
    Harness h(1);
    const uint64_t a = h.guest.alloc(64);
    const uint64_t b1 = h.guest.alloc(16);
    const uint64_t b2 = h.guest.alloc(48);
    const uint64_t big = h.guest.alloc(VirtioRng::kMaxBytesPerChain + 4096);
    h.rings[0].add({{a, 64, true}});
    h.rings[0].add({{b1, 16, true}, {b2, 48, true}});
    h.rings[0].add({{big, VirtioRng::kMaxBytesPerChain + 4096, true}});
    h.run(rng, 0);
    REQUIRE(h.rings[0].used_idx() == 3);
    CHECK(h.rings[0].used(0).len == 64);
    CHECK(h.rings[0].used(1).len == 64);
    CHECK(h.rings[0].used(2).len == VirtioRng::kMaxBytesPerChain);
    CHECK(h.signals[0] == 1);
    auto nonzero = [&](uint64_t addr, size_t len) {
        return std::any_of(h.guest.at(addr), h.guest.at(addr) + len, [](uint8_t v) { return v != 0; });
    };
    CHECK(nonzero(a, 64));
    CHECK(nonzero(b1, 16));
    CHECK(nonzero(b2, 48));
    // Past the bound nothing was written.
    CHECK(!nonzero(big + VirtioRng::kMaxBytesPerChain, 4096));
}

TEST_CASE("virtio-console writes transmitted data to its output", "[virtio-dev]") {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    base::UniqueFd read_end(p[0]);
    VirtioConsole console{base::UniqueFd(p[1]), base::UniqueFd()};
    CHECK(console.device_id() == 3);
    CHECK(console.queue_count() == 2);
    uint32_t ports = 0;
    console.read_config(4, std::span(reinterpret_cast<uint8_t*>(&ports), 4));
    CHECK(ports == 1);

    Harness h(2);
    h.rings[1].add({{h.guest.put("hello"), 5, false}, {h.guest.put(" world"), 6, false}});
    h.rings[1].add({{h.guest.put("!\n"), 2, false}});
    h.run(console, VirtioConsole::kTransmitQueue);
    REQUIRE(h.rings[1].used_idx() == 2);
    CHECK(h.rings[1].used(0).len == 0);
    CHECK(h.signals[1] == 1);
    console.flush();  // output leaves through a writer thread
    char buf[64] = {};
    CHECK(read(read_end.get(), buf, sizeof buf) == 13);
    CHECK(std::string(buf) == "hello world!\n");
}

TEST_CASE("virtio-console without output discards what the guest sends", "[virtio-dev]") {
    VirtioConsole console{base::UniqueFd(), base::UniqueFd()};
    CHECK(console.input_fd() < 0);
    CHECK(!console.wants_input());
    Harness h(2);
    h.rings[1].add({{h.guest.put("lost"), 4, false}});
    h.run(console, VirtioConsole::kTransmitQueue);
    CHECK(h.rings[1].used_idx() == 1);
}

TEST_CASE("virtio-console hands input to receive buffers and keeps what does not fit", "[virtio-dev]") {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    base::UniqueFd write_end(p[1]);
    VirtioConsole console{base::UniqueFd(), base::UniqueFd(p[0])};
    Harness h(2);
    CHECK(console.wants_input());
    console.pull_input();  // nothing there yet: must not block
    CHECK(console.wants_input());

    REQUIRE(write(write_end.get(), "abc", 3) == 3);
    console.pull_input();
    CHECK(!console.wants_input());
    h.run(console, VirtioConsole::kReceiveQueue);  // no buffer: the bytes wait
    CHECK(h.rings[0].used_idx() == 0);
    CHECK(h.signals[0] == 0);

    const uint64_t b1 = h.guest.alloc(2);
    h.rings[0].add({{b1, 2, true}});
    h.run(console, VirtioConsole::kReceiveQueue);
    REQUIRE(h.rings[0].used_idx() == 1);
    CHECK(h.rings[0].used(0).len == 2);
    CHECK(std::memcmp(h.guest.at(b1), "ab", 2) == 0);
    CHECK(!console.wants_input());

    const uint64_t b2 = h.guest.alloc(16);
    h.rings[0].add({{b2, 16, true}});
    h.run(console, VirtioConsole::kReceiveQueue);
    REQUIRE(h.rings[0].used_idx() == 2);
    CHECK(h.rings[0].used(1).len == 1);
    CHECK(*h.guest.at(b2) == 'c');
    CHECK(console.wants_input());

    write_end.reset();  // EOF: input stops being watched
    console.pull_input();
    CHECK(!console.wants_input());
}
