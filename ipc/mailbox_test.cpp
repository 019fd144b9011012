#include "ipc/mailbox.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "ipc/mailbox_layout.h"

using namespace brig;
using namespace brig::ipc;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kStopOffset = 0xdead;

// Serves `mailbox` on a thread until destroyed. The handler records every access and
// answers a read with (offset * 0x0101010101010101) plus a count of earlier writes.
class DeviceThread {
public:
    explicit DeviceThread(const SharedMailbox& mailbox) : server_(mailbox) {
        thread_ = std::thread([this] {
            server_.serve([this](const Access& a) -> uint64_t {
                log.push_back(a);
                if (a.op == AccessOp::Write) {
                    ++writes;
                    if (a.offset < kShadowRegisters) server_.publish_shadow(static_cast<unsigned>(a.offset), a.data);
                    return 0;
                }
                return 0xa5a5a5a5'00000000ull + (a.offset << 16) + writes;
            });
        });
    }
    ~DeviceThread() {
        server_.stop();
        thread_.join();
    }
    std::vector<Access> log;  // read only after the destructor or a completed read
    uint64_t writes = 0;

private:
    MailboxServer server_;
    std::thread thread_;
};

}  // namespace

TEST_CASE("mailbox reads and writes reach a device thread in order", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 1000ms);
    std::vector<Access> log;
    {
        DeviceThread device(mailbox);
        for (uint64_t i = 0; i < 500; ++i) {
            client.post_write(0x10, 4, i);
            client.post_write(0x14, 1, 0x1ff);  // masked to 0xff
            if (i % 7 == 0) {
                const uint64_t r = client.read(0x20, 8);
                CHECK(r == 0xa5a5a5a5'00000000ull + (0x20 << 16) + 2 * (i + 1));
            }
        }
        CHECK(client.read_shadow(0) == 0);
        client.post_write(3, 8, 0x1122334455667788ull);
        CHECK(client.read_shadow(3) == 0x1122334455667788ull);
        // Sleep long enough for the device to go to its futex, then wake it with a write.
        std::this_thread::sleep_for(5ms);
        client.post_write(4, 2, 0xbeef);
        CHECK(client.read_shadow(4) == 0xbeef);
        log = device.log;
    }
    uint64_t expect = 0;
    unsigned writes_seen = 0;
    for (const auto& a : log) {
        if (a.op != AccessOp::Write || a.offset != 0x10) continue;
        CHECK(a.data == expect);
        ++expect;
        ++writes_seen;
    }
    CHECK(writes_seen == 500);
    for (const auto& a : log)
        if (a.op == AccessOp::Write && a.offset == 0x14) CHECK(a.data == 0xff);
}

TEST_CASE("mailbox read returns the handler's value masked to the access size", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 1000ms);
    MailboxServer server(mailbox);
    std::thread device([&] { server.serve([](const Access&) -> uint64_t { return 0xfedcba9876543210ull; }); });
    CHECK(client.read(0, 1) == 0x10);
    CHECK(client.read(0, 2) == 0x3210);
    CHECK(client.read(0, 4) == 0x76543210);
    CHECK(client.read(0, 8) == 0xfedcba9876543210ull);
    CHECK_THROWS_AS(client.read(0, 3), MailboxError);
    server.stop();
    device.join();
}

TEST_CASE("mailbox posted writes fill the ring and wait for space", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 2000ms);
    MailboxServer server(mailbox, 0us);  // no spinning: exercise the futex path
    std::vector<uint64_t> seen;
    std::thread device([&] {
        server.serve([&](const Access& a) -> uint64_t {
            if (a.op == AccessOp::Write) {
                seen.push_back(a.data);
                if (seen.size() % 50 == 0) std::this_thread::sleep_for(1ms);  // let the ring fill
            }
            return 0;
        });
    });
    for (uint64_t i = 0; i < 1000; ++i) client.post_write(0, 8, i);
    client.read_shadow(0);
    server.stop();
    device.join();
    REQUIRE(seen.size() == 1000);
    for (uint64_t i = 0; i < 1000; ++i) REQUIRE(seen[i] == i);
}

TEST_CASE("mailbox works across processes through the memfd", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 2000ms);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int status = 0;
        try {
            auto mine = SharedMailbox::attach(base::UniqueFd(::dup(mailbox.fd())));
            MailboxServer server(mine);
            uint64_t last = 0;
            server.serve([&](const Access& a) -> uint64_t {
                if (a.op == AccessOp::Write) {
                    if (a.offset == kStopOffset)
                        server.stop();
                    else if (a.data != last + 1)
                        status = 3;  // out of order
                    else
                        last = a.data;
                    return 0;
                }
                return last * 2;
            });
        } catch (...) {
            status = 2;
        }
        ::_exit(status);
    }
    for (uint64_t i = 1; i <= 2000; ++i) {
        client.post_write(0, 8, i);
        if (i % 10 == 0) REQUIRE(client.read(8, 8) == 2 * i);
    }
    client.post_write(kStopOffset, 1, 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("mailbox attach refuses an unsealed or wrongly sized memfd", "[mailbox]") {
    base::UniqueFd fd(::memfd_create("not-a-mailbox", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    REQUIRE(::ftruncate(fd.get(), kMailboxBytes) == 0);
    CHECK_THROWS_AS(SharedMailbox::attach(base::UniqueFd(::dup(fd.get()))), MailboxError);
    REQUIRE(::ftruncate(fd.get(), 2 * kMailboxBytes) == 0);
    REQUIRE(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
    CHECK_THROWS_AS(SharedMailbox::attach(std::move(fd)), MailboxError);
    auto good = SharedMailbox::create();
    CHECK_NOTHROW(SharedMailbox::attach(base::UniqueFd(::dup(good.fd()))));
}

TEST_CASE("mailbox read from a device that never answers times out", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 100ms);
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(client.read(0, 4), Catch::Contains("did not answer"));
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 100ms);
    CHECK(took < 600ms);
}

TEST_CASE("mailbox mark_peer_dead wakes a blocked reader at once", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 10000ms);
    std::chrono::steady_clock::duration took{};
    bool threw = false;
    std::thread reader([&] {
        const auto start = std::chrono::steady_clock::now();
        try {
            client.read(0, 4);
        } catch (const MailboxError&) {
            threw = true;
        }
        took = std::chrono::steady_clock::now() - start;
    });
    std::this_thread::sleep_for(50ms);
    client.mark_peer_dead();
    reader.join();
    CHECK(threw);
    CHECK(took < 1000ms);
    CHECK_THROWS_AS(client.post_write(0, 4, 1), MailboxError);
    CHECK_THROWS_AS(client.read(0, 4), MailboxError);
}

TEST_CASE("mailbox rejects malformed replies", "[mailbox]") {
    auto mailbox = SharedMailbox::create();
    MailboxClient client(mailbox, 1000ms);
    MailboxLayout& L = *mailbox.layout();
    // A hostile "device": answers every access with the given reply fields.
    auto answer_with = [&](uint64_t seq_delta, uint32_t size, uint64_t tail_delta) {
        return std::thread([&L, seq_delta, size, tail_delta] {
            while (L.head.load() == L.tail.load()) std::this_thread::yield();
            const uint64_t head = L.head.load();
            L.reply_seq.store(head + seq_delta);
            L.reply_size.store(size);
            L.reply_data.store(~0ull);
            L.tail.store(head + tail_delta);
            L.vmm_doorbell.fetch_add(1);
            ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&L.vmm_doorbell), FUTEX_WAKE, 1, nullptr, nullptr, 0);
        });
    };
    SECTION("wrong sequence number") {
        auto t = answer_with(5, 4, 0);
        CHECK_THROWS_WITH(client.read(0, 4), Catch::Contains("malformed reply: sequence number"));
        t.join();
    }
    SECTION("wrong size") {
        auto t = answer_with(0, 8, 0);
        CHECK_THROWS_WITH(client.read(0, 4), Catch::Contains("malformed reply: size"));
        t.join();
    }
    SECTION("consumer counter ahead of the producer") {
        auto t = answer_with(0, 4, 10);
        CHECK_THROWS_WITH(client.read(0, 4), Catch::Contains("malformed reply"));
        t.join();
    }
    SECTION("a valid reply uses only the low size bytes") {
        auto t = answer_with(0, 2, 0);
        CHECK(client.read(0, 2) == 0xffff);
        t.join();
    }
}
