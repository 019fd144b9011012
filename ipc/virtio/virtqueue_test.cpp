#include "ipc/virtio/virtqueue.h"

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <limits>

#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtio_test_guest.h"

using namespace brig;
using namespace brig::virtio;
using brig::virtio::testing::TestGuest;

namespace {

constexpr uint16_t kMax = 256;

}  // namespace

TEST_CASE("guest memory view bounds are overflow-safe", "[virtio]") {
    std::vector<uint8_t> bytes(4096);
    auto view = GuestMemoryView::for_testing(bytes);
    CHECK(view.size() == 4096);
    CHECK(view.contains(0, 4096));
    CHECK(view.contains(4095, 1));
    CHECK_FALSE(view.contains(4095, 2));
    CHECK_FALSE(view.contains(4096, 1));
    CHECK_FALSE(view.contains(1, std::numeric_limits<uint64_t>::max()));
    CHECK_FALSE(view.contains(std::numeric_limits<uint64_t>::max(), 2));
    CHECK_FALSE(view.contains(std::numeric_limits<uint64_t>::max() - 10, 20));
    auto s = view.slice(16, 4);
    REQUIRE(s);
    CHECK(s->data() == bytes.data() + 16);
    CHECK(s->size() == 4);
    CHECK(view.write_obj<uint32_t>(100, 0xdeadbeef));
    uint32_t v = 0;
    CHECK(view.read_obj(100, v));
    CHECK(v == 0xdeadbeef);
    CHECK_FALSE(view.read_obj(4093, v));
}

TEST_CASE("guest memory view maps a memfd with the hole at 3 GiB", "[virtio]") {
    base::UniqueFd fd(memfd_create("brig-test-guest", MFD_CLOEXEC));
    REQUIRE(fd);
    const uint64_t size = brig::ipc::kRamHoleStart + 8192;  // sparse: no page is touched but two
    REQUIRE(ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
    const int raw = fd.get();
    base::UniqueFd dup_fd(dup(raw));
    auto view = GuestMemoryView::map(std::move(fd));
    CHECK(view.size() == size);
    CHECK(view.contains(brig::ipc::kRamHoleStart - 1, 1));
    CHECK_FALSE(view.contains(brig::ipc::kRamHoleStart - 1, 2));  // into the hole
    CHECK_FALSE(view.contains(brig::ipc::kRamHoleStart, 1));
    CHECK_FALSE(view.contains(brig::ipc::kRamHoleEnd - 1, 1));
    CHECK(view.contains(brig::ipc::kRamHoleEnd, 8192));
    CHECK_FALSE(view.contains(brig::ipc::kRamHoleEnd + 4096, 4097));
    CHECK_FALSE(view.contains(brig::ipc::kRamHoleEnd + 8192, 1));
    // Guest 4 GiB is memfd offset 3 GiB.
    REQUIRE(view.write_obj<uint64_t>(brig::ipc::kRamHoleEnd + 8, 0x1122334455667788ull));
    uint64_t back = 0;
    REQUIRE(pread(dup_fd.get(), &back, sizeof back, static_cast<off_t>(brig::ipc::kRamHoleStart + 8)) == sizeof back);
    CHECK(back == 0x1122334455667788ull);

    auto moved = std::move(view);
    CHECK(moved.contains(brig::ipc::kRamHoleEnd, 8));
    CHECK_FALSE(view.contains(0, 1));  // NOLINT(bugprone-use-after-move): the moved-from view is empty
}

TEST_CASE("guest memory view rejects an empty memfd", "[virtio]") {
    base::UniqueFd fd(memfd_create("brig-test-empty", MFD_CLOEXEC));
    REQUIRE(fd);
    CHECK_THROWS_AS(GuestMemoryView::map(std::move(fd)), std::runtime_error);
}

TEST_CASE("split queue pops a readable + writable chain", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false);
    CHECK_FALSE(q.pop());

    g.desc(3, TestGuest::kData, 16, kDescFlagNext, 5);
    g.desc(5, TestGuest::kData + 0x100, 512, kDescFlagNext, 1);
    g.desc(1, TestGuest::kData + 0x1000, 1, kDescFlagWrite);
    g.make_available(3);

    auto chain = q.pop();
    REQUIRE(chain);
    CHECK(chain->head == 3);
    REQUIRE(chain->readable.size() == 2);
    REQUIRE(chain->writable.size() == 1);
    CHECK(chain->readable[0].addr == TestGuest::kData);
    CHECK(chain->readable[0].len == 16);
    CHECK(chain->readable[1].addr == TestGuest::kData + 0x100);
    CHECK(chain->readable[1].len == 512);
    CHECK(chain->writable[0].addr == TestGuest::kData + 0x1000);
    CHECK(chain->writable[0].len == 1);
    CHECK(chain->readable_bytes() == 528);
    CHECK(chain->writable_bytes() == 1);
    CHECK_FALSE(q.pop());

    q.push_used(chain->head, 1);
    CHECK(g.used_idx() == 1);
    CHECK(g.used_id(0) == 3);
    CHECK(g.used_len(0) == 1);
    CHECK(q.needs_interrupt());
    CHECK_FALSE(q.needs_interrupt());  // nothing new since
}

TEST_CASE("split queue follows the ring across index wrap-around", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false);
    g.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    for (unsigned i = 0; i < 70000; ++i) {  // > 65536: avail and used indices wrap
        g.make_available(0);
        auto chain = q.pop();
        REQUIRE(chain);
        REQUIRE(chain->head == 0);
        q.push_used(0, 8);
    }
    CHECK(g.used_idx() == static_cast<uint16_t>(70000));
}

TEST_CASE("split queue pops several chains and an indirect one", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false, true);
    const uint64_t table = TestGuest::kData + 0x8000;
    g.desc_at(table, 0, TestGuest::kData, 4, kDescFlagNext, 2);
    g.desc_at(table, 2, TestGuest::kData + 64, 4, kDescFlagWrite | kDescFlagNext, 1);
    g.desc_at(table, 1, TestGuest::kData + 128, 4, kDescFlagWrite);
    g.desc(0, table, 3 * 16, kDescFlagIndirect);
    g.desc(1, TestGuest::kData + 256, 32, 0);
    g.make_available(0);
    g.make_available(1);

    auto a = q.pop();
    REQUIRE(a);
    CHECK(a->head == 0);
    CHECK(a->readable.size() == 1);
    CHECK(a->writable.size() == 2);
    CHECK(a->writable[1].addr == TestGuest::kData + 128);
    auto b = q.pop();
    REQUIRE(b);
    CHECK(b->head == 1);
    CHECK(b->readable.size() == 1);
    CHECK(b->writable.empty());
    CHECK_FALSE(q.pop());
}

TEST_CASE("split queue honours NO_INTERRUPT without EVENT_IDX", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false);
    g.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    g.set_avail_flags(kAvailFlagNoInterrupt);
    g.make_available(0);
    q.push_used(q.pop()->head, 0);
    CHECK_FALSE(q.needs_interrupt());
    g.set_avail_flags(0);
    g.make_available(0);
    q.push_used(q.pop()->head, 0);
    CHECK(q.needs_interrupt());
}

TEST_CASE("split queue EVENT_IDX suppresses interrupts until used_event", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, true);
    g.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    g.set_avail_flags(kAvailFlagNoInterrupt);  // ignored with EVENT_IDX
    g.set_used_event(2);                       // interrupt once used.idx moves past 2

    for (int i = 0; i < 4; ++i) g.make_available(0);
    // The device tells the driver where it wants the next notify.
    REQUIRE(q.pop());
    CHECK(g.avail_event() == 1);

    q.push_used(0, 1);  // used.idx 1
    CHECK_FALSE(q.needs_interrupt());
    REQUIRE(q.pop());
    q.push_used(0, 1);  // used.idx 2
    CHECK_FALSE(q.needs_interrupt());
    REQUIRE(q.pop());
    q.push_used(0, 1);  // used.idx 3: crossed used_event 2
    CHECK(q.needs_interrupt());
    REQUIRE(q.pop());
    q.push_used(0, 1);  // used.idx 4: used_event still 2
    CHECK_FALSE(q.needs_interrupt());
    CHECK(g.avail_event() == 4);
    CHECK_FALSE(q.pop());
    CHECK(g.avail_event() == 4);

    // A batch that jumps over used_event signals once.
    g.set_used_event(5);
    for (int i = 0; i < 3; ++i) g.make_available(0);
    for (int i = 0; i < 3; ++i) q.push_used(q.pop()->head, 0);  // used.idx 7
    CHECK(q.needs_interrupt());
    CHECK(vring_need_event(0xffff, 0, 0xfffe));  // across the wrap
    CHECK_FALSE(vring_need_event(5, 5, 4));
}

TEST_CASE("split queue rejects a bad configuration", "[virtio]") {
    TestGuest g;
    auto make = [&](QueueConfig c, uint16_t max = kMax) { SplitQueue q(g.memory, c, max, false); };
    auto c = g.config();
    SECTION("size 0") {
        c.size = 0;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("size not a power of two") {
        c.size = 12;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("size above the maximum") {
        c.size = 512;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("size above the device's own maximum") {
        c.size = 16;
        CHECK_THROWS_AS(make(c, 8), QueueError);
    }
    SECTION("misaligned descriptor table") {
        c.desc_addr += 8;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("misaligned available ring") {
        c.avail_addr += 1;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("misaligned used ring") {
        c.used_addr += 2;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("descriptor table outside memory") {
        c.desc_addr = TestGuest::kMemSize;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("descriptor table crossing the end") {
        c.desc_addr = TestGuest::kMemSize - 64;  // 8 * 16 = 128 bytes needed
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("available ring outside memory") {
        c.avail_addr = 1ull << 40;
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("used ring at the top of the address space") {
        c.used_addr = ~uint64_t{3};
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("used ring crossing the end (its avail_event included)") {
        c.used_addr = TestGuest::kMemSize - (4 + 8 * 8);  // 2 bytes short
        CHECK_THROWS_AS(make(c), QueueError);
    }
    SECTION("a valid one") { CHECK_NOTHROW(make(c)); }
}

TEST_CASE("split queue rejects hostile chains", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false, true);
    const uint64_t table = TestGuest::kData + 0x8000;

    SECTION("buffer address outside memory") { g.desc(0, TestGuest::kMemSize, 1, 0); }
    SECTION("addr + len overflowing 2^64") { g.desc(0, ~uint64_t{0} - 15, 32, 0); }
    SECTION("len crossing the end of memory") { g.desc(0, TestGuest::kMemSize - 16, 17, kDescFlagWrite); }
    SECTION("zero-length buffer") { g.desc(0, TestGuest::kData, 0, 0); }
    SECTION("chain loop") {
        g.desc(0, TestGuest::kData, 4, kDescFlagNext, 1);
        g.desc(1, TestGuest::kData, 4, kDescFlagNext, 0);
    }
    SECTION("chain pointing at itself") { g.desc(0, TestGuest::kData, 4, kDescFlagNext, 0); }
    SECTION("chain longer than the queue size") {
        for (uint16_t i = 0; i < 8; ++i)
            g.desc(i, TestGuest::kData, 4, kDescFlagNext, static_cast<uint16_t>((i + 1) % 8));
    }
    SECTION("next index beyond the table") { g.desc(0, TestGuest::kData, 4, kDescFlagNext, 8); }
    SECTION("readable after writable") {
        g.desc(0, TestGuest::kData, 4, kDescFlagWrite | kDescFlagNext, 1);
        g.desc(1, TestGuest::kData, 4, 0);
    }
    SECTION("indirect table outside memory") { g.desc(0, TestGuest::kMemSize - 16, 32, kDescFlagIndirect); }
    SECTION("indirect table address overflowing") { g.desc(0, ~uint64_t{0} - 15, 32, kDescFlagIndirect); }
    SECTION("indirect length not a multiple of 16") {
        g.desc_at(table, 0, TestGuest::kData, 4, 0);
        g.desc(0, table, 24, kDescFlagIndirect);
    }
    SECTION("indirect length zero") { g.desc(0, table, 0, kDescFlagIndirect); }
    SECTION("indirect table longer than the queue") {
        for (uint16_t i = 0; i < 9; ++i) g.desc_at(table, i, TestGuest::kData, 4, i < 8 ? kDescFlagNext : 0, i + 1);
        g.desc(0, table, 9 * 16, kDescFlagIndirect);
    }
    SECTION("nested indirect") {
        g.desc_at(table, 0, table + 0x100, 16, kDescFlagIndirect);
        g.desc(0, table, 16, kDescFlagIndirect);
    }
    SECTION("indirect with NEXT") {
        g.desc_at(table, 0, TestGuest::kData, 4, 0);
        g.desc(0, table, 16, kDescFlagIndirect | kDescFlagNext, 1);
        g.desc(1, TestGuest::kData, 4, 0);
    }
    SECTION("indirect after a direct descriptor") {
        g.desc_at(table, 0, TestGuest::kData, 4, 0);
        g.desc(0, TestGuest::kData, 4, kDescFlagNext, 1);
        g.desc(1, table, 16, kDescFlagIndirect);
    }
    SECTION("loop inside an indirect table") {
        g.desc_at(table, 0, TestGuest::kData, 4, kDescFlagNext, 1);
        g.desc_at(table, 1, TestGuest::kData, 4, kDescFlagNext, 0);
        g.desc(0, table, 32, kDescFlagIndirect);
    }
    SECTION("next beyond an indirect table") {
        g.desc_at(table, 0, TestGuest::kData, 4, kDescFlagNext, 2);
        g.desc(0, table, 32, kDescFlagIndirect);
    }
    SECTION("readable after writable in an indirect table") {
        g.desc_at(table, 0, TestGuest::kData, 4, kDescFlagWrite | kDescFlagNext, 1);
        g.desc_at(table, 1, TestGuest::kData, 4, 0);
        g.desc(0, table, 32, kDescFlagIndirect);
    }
    g.make_available(0);
    CHECK_THROWS_AS(q.pop(), QueueError);
}

TEST_CASE("split queue rejects indirect descriptors when not negotiated", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false, false);
    const uint64_t table = TestGuest::kData + 0x8000;
    g.desc_at(table, 0, TestGuest::kData, 4, 0);
    g.desc(0, table, 16, kDescFlagIndirect);
    g.make_available(0);
    CHECK_THROWS_AS(q.pop(), QueueError);
}

TEST_CASE("split queue rejects a bad head or avail index", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false);
    g.desc(0, TestGuest::kData, 4, 0);
    SECTION("head >= size") {
        g.make_available(8);
        CHECK_THROWS_AS(q.pop(), QueueError);
    }
    SECTION("head far out") {
        g.make_available(0xffff);
        CHECK_THROWS_AS(q.pop(), QueueError);
    }
    SECTION("avail.idx jumping by more than the size") {
        g.set_avail_idx(9);
        CHECK_THROWS_AS(q.pop(), QueueError);
    }
    SECTION("avail.idx going backwards") {
        g.set_avail_idx(0xffff);
        CHECK_THROWS_AS(q.pop(), QueueError);
    }
    SECTION("avail.idx jumping by exactly the size is fine") {
        for (int i = 0; i < 8; ++i) g.make_available(0);
        for (int i = 0; i < 8; ++i) CHECK(q.pop());
        CHECK_FALSE(q.pop());
    }
}

TEST_CASE("split queue push_used rejects a bad head; a disabled queue is inert", "[virtio]") {
    TestGuest g;
    SplitQueue q(g.memory, g.config(), kMax, false);
    CHECK_THROWS_AS(q.push_used(8, 0), QueueError);
    CHECK(g.used_idx() == 0);

    auto d = SplitQueue::disabled(g.memory);
    CHECK_FALSE(d.enabled());
    CHECK_FALSE(d.pop());
    CHECK_FALSE(d.needs_interrupt());
    CHECK_THROWS_AS(d.push_used(0, 0), QueueError);
    d = std::move(q);  // move-assignable: the transport swaps queues in place
    CHECK(d.enabled());
    CHECK(d.size() == 8);
}
