// DeviceProxy's routing: shadowed registers from the mailbox's shadow without a round
// trip, everything else through the mailbox in order, odd sizes as byte accesses, and
// a device that fails once fails every later access at once. A MailboxServer on a
// thread plays the device.
#include "vmm/devices/device_proxy.h"

#include <catch2/catch.hpp>
#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace brig;
using namespace brig::ipc;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kShadowedOffset = 0x5;  // like the UART's line status register
constexpr unsigned kShadowIndex = 2;

// Serves the mailbox on a thread and records every access. A read of offset X
// answers 0x1122334455667700 + X (masked by the mailbox to the access size).
class DeviceThread {
public:
    explicit DeviceThread(const SharedMailbox& mailbox) : server_(mailbox) {
        thread_ = std::thread([this] {
            server_.serve([this](const Access& a) -> uint64_t {
                std::lock_guard guard(lock_);
                log_.push_back(a);
                return 0x1122334455667700ull + a.offset;
            });
        });
    }
    ~DeviceThread() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        server_.stop();
        thread_.join();
    }
    void publish_shadow(unsigned index, uint64_t value) { server_.publish_shadow(index, value); }
    std::vector<Access> log() {
        std::lock_guard guard(lock_);
        return log_;
    }

private:
    MailboxServer server_;
    std::mutex lock_;
    std::vector<Access> log_;
    std::thread thread_;
};

struct Failures {
    std::vector<std::string> seen;
    DeviceProxy::FailureHandler handler() {
        return [this](const std::string& device, const std::string& why) { seen.push_back(device + ": " + why); };
    }
};

std::shared_ptr<SharedMailbox> new_mailbox() { return std::make_shared<SharedMailbox>(SharedMailbox::create()); }

DeviceProxy make_proxy(const std::shared_ptr<SharedMailbox>& mailbox, Failures& failures,
                       std::chrono::milliseconds timeout = 1000ms) {
    return DeviceProxy("test-dev", mailbox, timeout, {{kShadowedOffset, kShadowIndex}}, failures.handler());
}

}  // namespace

TEST_CASE("proxy: a shadowed register is read from the shadow, with no access to the device", "[device_proxy]") {
    auto mailbox = new_mailbox();
    Failures failures;
    DeviceProxy proxy = make_proxy(mailbox, failures, 200ms);
    // Nobody serves the mailbox: a round trip could only time out.
    MailboxServer device(*mailbox);
    device.publish_shadow(kShadowIndex, 0x60);
    uint8_t lsr = 0;
    proxy.read(kShadowedOffset, std::span(&lsr, 1));
    CHECK(lsr == 0x60);
    device.publish_shadow(kShadowIndex, 0x21);
    proxy.read(kShadowedOffset, std::span(&lsr, 1));
    CHECK(lsr == 0x21);
    CHECK(failures.seen.empty());

    // The neighbouring register is not shadowed: it needs the device, which is silent.
    uint8_t other = 0;
    proxy.read(kShadowedOffset + 1, std::span(&other, 1));
    CHECK(other == 0xff);
    REQUIRE(failures.seen.size() == 1);
    CHECK(failures.seen[0].find("test-dev: mailbox: the device did not answer a read") == 0);
}

TEST_CASE("proxy: other reads and writes go through the mailbox, in order", "[device_proxy]") {
    auto mailbox = new_mailbox();
    Failures failures;
    DeviceProxy proxy = make_proxy(mailbox, failures);
    DeviceThread device(*mailbox);
    device.publish_shadow(kShadowIndex, 0x60);

    const std::array<uint8_t, 4> word{0xde, 0xad, 0xbe, 0xef};
    proxy.write(0x10, word);
    const uint8_t byte = 0x41;
    proxy.write(0x0, std::span(&byte, 1));
    std::array<uint8_t, 2> half{};
    proxy.read(0x20, half);
    CHECK(half == std::array<uint8_t, 2>{0x20, 0x77});
    std::array<uint8_t, 8> quad{};
    proxy.read(0x8, quad);
    CHECK(quad == std::array<uint8_t, 8>{0x08, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11});
    uint8_t lsr = 0;
    proxy.read(kShadowedOffset, std::span(&lsr, 1));  // no access
    CHECK(lsr == 0x60);
    // A write to a shadowed offset is the device's business: it goes through.
    proxy.write(kShadowedOffset, std::span(&byte, 1));
    uint8_t last = 0;
    proxy.read(0x7, std::span(&last, 1));
    CHECK(last == 0x07);
    CHECK(failures.seen.empty());

    const auto log = device.log();
    REQUIRE(log.size() == 6);
    CHECK((log[0].op == AccessOp::Write && log[0].offset == 0x10 && log[0].size == 4 && log[0].data == 0xefbeadde));
    CHECK((log[1].op == AccessOp::Write && log[1].offset == 0x0 && log[1].size == 1 && log[1].data == 0x41));
    CHECK((log[2].op == AccessOp::Read && log[2].offset == 0x20 && log[2].size == 2));
    CHECK((log[3].op == AccessOp::Read && log[3].offset == 0x8 && log[3].size == 8));
    CHECK((log[4].op == AccessOp::Write && log[4].offset == kShadowedOffset && log[4].size == 1));
    CHECK((log[5].op == AccessOp::Read && log[5].offset == 0x7 && log[5].size == 1));
}

TEST_CASE("proxy: accesses of odd sizes become byte accesses", "[device_proxy]") {
    auto mailbox = new_mailbox();
    Failures failures;
    DeviceProxy proxy = make_proxy(mailbox, failures);
    DeviceThread device(*mailbox);
    device.publish_shadow(kShadowIndex, 0x60);

    // KVM's 3 + 1 split of a 4-byte read across the end of a window.
    std::array<uint8_t, 3> three{};
    proxy.read(0xffd, three);
    CHECK(three == std::array<uint8_t, 3>{0xfd, 0xfe, 0xff});
    const std::array<uint8_t, 3> out{1, 2, 3};
    proxy.write(0x30, out);
    // A byte of an odd-sized read that lands on a shadowed register comes from the shadow.
    std::array<uint8_t, 3> across{};
    proxy.read(kShadowedOffset - 1, across);
    CHECK(across == std::array<uint8_t, 3>{0x04, 0x60, 0x06});
    std::array<uint8_t, 16> wide{};
    proxy.read(0x40, wide);
    for (size_t i = 0; i < wide.size(); ++i) CHECK(wide[i] == 0x40 + i);
    CHECK(failures.seen.empty());

    const auto log = device.log();
    REQUIRE(log.size() == 3 + 3 + 2 + 16);
    for (const Access& a : log) CHECK(a.size == 1);
    CHECK((log[0].offset == 0xffd && log[1].offset == 0xffe && log[2].offset == 0xfff));
    for (size_t i = 0; i < 3; ++i)
        CHECK((log[3 + i].op == AccessOp::Write && log[3 + i].offset == 0x30 + i && log[3 + i].data == i + 1));
    CHECK((log[6].offset == kShadowedOffset - 1 && log[7].offset == kShadowedOffset + 1));
}

TEST_CASE("proxy: a dead peer fails every access at once", "[device_proxy]") {
    auto mailbox = new_mailbox();
    Failures failures;
    DeviceProxy proxy = make_proxy(mailbox, failures, 5000ms);
    DeviceThread device(*mailbox);
    uint8_t before = 0;
    proxy.read(0x1, std::span(&before, 1));
    CHECK(before == 0x01);
    device.stop();

    proxy.mark_peer_dead();
    const auto start = std::chrono::steady_clock::now();
    std::array<uint8_t, 4> word{};
    proxy.read(0x10, word);
    CHECK(word == std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff});
    uint8_t lsr = 0;
    proxy.read(kShadowedOffset, std::span(&lsr, 1));  // the shadow dies with the device
    CHECK(lsr == 0xff);
    proxy.write(0x10, word);
    std::array<uint8_t, 1024> insb{};  // a `rep insb`: one failure each, no wait
    proxy.read(0x0, insb);
    CHECK(std::chrono::steady_clock::now() - start < 1000ms);
    CHECK(insb[0] == 0xff);
    CHECK(insb[1023] == 0xff);
    CHECK(failures.seen.size() == 3 + 1024);
    for (const auto& why : failures.seen) CHECK(why == "test-dev: mailbox: the device is gone");
}

TEST_CASE("proxy: after one timeout, later accesses fail without waiting", "[device_proxy]") {
    auto mailbox = new_mailbox();
    Failures failures;
    DeviceProxy proxy = make_proxy(mailbox, failures, 100ms);
    // Nobody serves: the first read times out, and marks the device dead.
    const auto start = std::chrono::steady_clock::now();
    std::array<uint8_t, 64> insb{};
    proxy.read(0x0, insb);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 100ms);
    CHECK(took < 1000ms);  // one timeout, not 64
    REQUIRE(failures.seen.size() == 64);
    CHECK(failures.seen[0].find("did not answer a read within 100 ms") != std::string::npos);
    CHECK(failures.seen[1] == "test-dev: mailbox: the device is gone");
}
