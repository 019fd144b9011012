#include "ipc/virtio/virtio_mmio.h"
#include "ipc/virtio/virtio_mmio_registers.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ipc/virtio/virtio_test_guest.h"

using namespace brig;
using namespace brig::virtio;
using brig::virtio::testing::TestGuest;

namespace {

using namespace brig::virtio::mmio_register;

constexpr uint64_t kFakeFeature = 1ull << 3;

// Echo-style device: every chain on a queue is returned with its writable bytes filled.
class FakeDevice final : public VirtioDevice {
public:
    uint32_t device_id() const override { return kDeviceIdEntropy; }
    uint64_t device_features() const override { return kFakeFeature | (1ull << 34) /* not the device's to offer */; }
    unsigned queue_count() const override { return 2; }
    uint16_t queue_max_size() const override { return 16; }
    uint32_t config_size() const override { return static_cast<uint32_t>(config.size()); }
    void read_config(uint32_t offset, std::span<uint8_t> data) override {
        REQUIRE(offset + data.size() <= config.size());  // the transport bounds it
        std::memcpy(data.data(), config.data() + offset, data.size());
    }
    void write_config(uint32_t offset, std::span<const uint8_t> data) override {
        REQUIRE(offset + data.size() <= config.size());
        std::memcpy(config.data() + offset, data.data(), data.size());
    }
    void activate(uint64_t features) override {
        activated = true;
        active_features = features;
    }
    void process_queue(unsigned queue, QueueContext& ctx) override {
        if (while_processing) while_processing();
        processed.push_back(queue);
        if (throw_on_process) throw QueueError("fake trouble");
        auto& q = ctx.queues.at(queue);
        while (auto chain = q.pop()) {
            uint32_t written = 0;
            for (const auto& b : chain->writable) {
                auto s = ctx.memory.slice(b.addr, b.len);
                REQUIRE(s);
                std::memset(s->data(), 0xab, s->size());
                written += b.len;
            }
            q.push_used(chain->head, written);
        }
        ctx.signal_used(queue);
    }
    void reset() override { ++resets; }

    std::vector<uint8_t> config{1, 2, 3, 4, 5, 6};
    bool activated = false;
    uint64_t active_features = 0;
    bool throw_on_process = false;
    std::function<void()> while_processing;  // runs inside process_queue, queue lock held
    std::vector<unsigned> processed;
    int resets = 0;
};

class CountingIrq final : public InterruptLine {
public:
    void trigger() override { ++count; }
    int count = 0;
};

struct Rig {
    TestGuest guest;
    FakeDevice device;
    std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
    std::vector<uint32_t> published;
    std::vector<std::string> errors;
    VirtioMmioTransport transport{device, guest.memory, irq, [this](uint32_t v) { published.push_back(v); },
                                  [this](const std::string& e) { errors.push_back(e); }};

    uint32_t r(uint64_t off) { return static_cast<uint32_t>(transport.read(off, 4)); }
    void w(uint64_t off, uint32_t v) { transport.write(off, 4, v); }
    uint32_t status() { return r(kStatus); }

    void negotiate(uint64_t features) {
        w(kStatus, kStatusAcknowledge);
        w(kStatus, kStatusAcknowledge | kStatusDriver);
        w(kDriverFeaturesSel, 0);
        w(kDriverFeatures, static_cast<uint32_t>(features));
        w(kDriverFeaturesSel, 1);
        w(kDriverFeatures, static_cast<uint32_t>(features >> 32));
        w(kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    }
    void setup_queue(unsigned index, QueueConfig c, std::optional<uint32_t> num = {}) {
        w(kQueueSel, index);
        w(kQueueNum, num.value_or(c.size));
        w(kQueueDescLow, static_cast<uint32_t>(c.desc_addr));
        w(kQueueDescHigh, static_cast<uint32_t>(c.desc_addr >> 32));
        w(kQueueDriverLow, static_cast<uint32_t>(c.avail_addr));
        w(kQueueDriverHigh, static_cast<uint32_t>(c.avail_addr >> 32));
        w(kQueueDeviceLow, static_cast<uint32_t>(c.used_addr));
        w(kQueueDeviceHigh, static_cast<uint32_t>(c.used_addr >> 32));
        w(kQueueReady, 1);
    }
    void driver_ok() { w(kStatus, status() | kStatusDriverOk); }
    void bring_up(uint64_t features = kFeatureVersion1) {
        negotiate(features);
        REQUIRE((status() & kStatusFeaturesOk) != 0);
        setup_queue(0, guest.config());
        REQUIRE(r(kQueueReady) == 1);
        driver_ok();
        REQUIRE(transport.driver_ok());
    }
};

}  // namespace

TEST_CASE("virtio-mmio identification registers", "[virtio]") {
    Rig rig;
    CHECK(rig.r(0x000) == 0x74726976);
    CHECK(rig.r(0x004) == 2);
    CHECK(rig.r(0x008) == kDeviceIdEntropy);
    CHECK(rig.r(0x00c) == kMmioVendorId);
    CHECK(rig.transport.read(0x000, 2) == 0);  // wrong access size
    CHECK(rig.transport.read(0x000, 8) == 0);
    CHECK(rig.r(0x7f0) == 0);  // unknown
    rig.w(0x000, 1234);        // read-only
    CHECK(rig.r(0x000) == 0x74726976);
}

TEST_CASE("virtio-mmio full initialisation handshake", "[virtio]") {
    Rig rig;
    rig.w(kDeviceFeaturesSel, 0);
    const uint32_t lo = rig.r(kDeviceFeatures);
    rig.w(kDeviceFeaturesSel, 1);
    const uint32_t hi = rig.r(kDeviceFeatures);
    rig.w(kDeviceFeaturesSel, 2);
    CHECK(rig.r(kDeviceFeatures) == 0);
    const uint64_t offered = (uint64_t{hi} << 32) | lo;
    CHECK((offered & kFakeFeature) != 0);
    CHECK((offered & kFeatureVersion1) != 0);
    CHECK((offered & kFeatureRingIndirectDesc) != 0);
    CHECK((offered & kFeatureRingEventIdx) != 0);
    CHECK((offered & (1ull << 34)) == 0);  // the device's stray transport bit is not offered

    rig.w(kStatus, kStatusAcknowledge);
    CHECK(rig.status() == kStatusAcknowledge);
    rig.w(kStatus, kStatusAcknowledge | kStatusDriver);
    CHECK(rig.status() == (kStatusAcknowledge | kStatusDriver));

    SECTION("FEATURES_OK is refused without VERSION_1") {
        rig.w(kDriverFeaturesSel, 0);
        rig.w(kDriverFeatures, static_cast<uint32_t>(kFakeFeature));
        rig.w(kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        CHECK((rig.status() & kStatusFeaturesOk) == 0);
        // ... and queues cannot be set up, nor can DRIVER_OK be set.
        rig.setup_queue(0, rig.guest.config());
        CHECK(rig.r(kQueueReady) == 0);
        rig.w(kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
        CHECK_FALSE(rig.transport.driver_ok());
        CHECK_FALSE(rig.device.activated);
    }
    SECTION("FEATURES_OK is refused for a feature that was not offered") {
        rig.w(kDriverFeaturesSel, 1);
        rig.w(kDriverFeatures, static_cast<uint32_t>((kFeatureVersion1 | (1ull << 40)) >> 32));
        rig.w(kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        CHECK((rig.status() & kStatusFeaturesOk) == 0);
    }
    SECTION("the whole way to DRIVER_OK") {
        const uint64_t accepted = kFeatureVersion1 | kFeatureRingEventIdx | kFakeFeature;
        rig.negotiate(accepted);
        CHECK(rig.status() == (kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk));
        // Features are frozen after FEATURES_OK.
        rig.w(kDriverFeaturesSel, 0);
        rig.w(kDriverFeatures, 0);

        rig.w(kQueueSel, 0);
        CHECK(rig.r(kQueueNumMax) == 16);
        rig.w(kQueueSel, 2);  // no such queue
        CHECK(rig.r(kQueueNumMax) == 0);
        rig.setup_queue(0, rig.guest.config());
        CHECK(rig.r(kQueueReady) == 1);
        // A ready queue's registers are frozen.
        rig.w(kQueueNum, 4);
        rig.w(kQueueReady, 1);
        CHECK_FALSE(rig.transport.needs_reset());

        rig.driver_ok();
        CHECK(rig.transport.driver_ok());
        CHECK(rig.device.activated);
        CHECK(rig.device.active_features == accepted);
        // DRIVER_OK looks at every ready queue once (a notify may have overtaken it).
        CHECK(rig.device.processed == std::vector<unsigned>{0});

        // The queue works, with the negotiated EVENT_IDX.
        rig.guest.desc(0, TestGuest::kData, 8, kDescFlagWrite);
        rig.guest.set_used_event(0);
        rig.guest.make_available(0);
        rig.transport.notify(0);
        CHECK(rig.guest.used_idx() == 1);
        CHECK(rig.guest.used_len(0) == 8);
        CHECK(rig.guest.bytes[TestGuest::kData] == 0xab);
        CHECK(rig.guest.avail_event() == 1);
        CHECK(rig.irq->count == 1);
        CHECK(rig.r(kMmioInterruptStatus) == kInterruptUsedBuffer);

        // Queue registers cannot change after DRIVER_OK.
        rig.w(kQueueSel, 1);
        rig.w(kQueueNum, 8);
        rig.w(kQueueReady, 1);
        CHECK(rig.r(kQueueReady) == 0);
        // Clearing a status bit is refused.
        rig.w(kStatus, kStatusAcknowledge);
        CHECK(rig.transport.driver_ok());
    }
}

TEST_CASE("virtio-mmio ignores notifies before DRIVER_OK and for queues not ready", "[virtio]") {
    Rig rig;
    rig.guest.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    rig.guest.make_available(0);
    rig.transport.notify(0);
    rig.negotiate(kFeatureVersion1);
    rig.setup_queue(0, rig.guest.config());
    rig.transport.notify(0);
    rig.w(kMmioQueueNotify, 0);
    CHECK(rig.device.processed.empty());
    CHECK(rig.guest.used_idx() == 0);
    CHECK(rig.transport.ignored_notifies() == 3);

    rig.driver_ok();  // the early buffer is picked up now, after DRIVER_OK
    CHECK(rig.device.processed == std::vector<unsigned>{0});
    CHECK(rig.guest.used_idx() == 1);

    rig.transport.notify(1);  // never set up
    rig.transport.notify(7);  // no such queue
    rig.w(kMmioQueueNotify, 0xffffffff);
    CHECK(rig.device.processed.size() == 1);
    CHECK(rig.transport.ignored_notifies() == 6);
}

TEST_CASE("virtio-mmio hands QueueNotify writes and the DRIVER_OK sweep to the deferred notifier", "[virtio]") {
    Rig rig;
    std::vector<unsigned> deferred;
    rig.transport.set_deferred_notify([&](unsigned q) { deferred.push_back(q); });
    rig.bring_up();
    rig.w(kMmioQueueNotify, 0);
    rig.w(kMmioQueueNotify, 9);  // out of range: dropped
    CHECK(deferred == std::vector<unsigned>{0, 0});
    CHECK(rig.device.processed.empty());
}

TEST_CASE("virtio-mmio: a bad queue config sets NEEDS_RESET with a config interrupt", "[virtio]") {
    Rig rig;
    rig.negotiate(kFeatureVersion1);
    auto c = rig.guest.config();
    std::optional<uint32_t> num;
    SECTION("size 0 (QueueNum never written)") { c.size = 0; }
    SECTION("size not a power of two") { c.size = 6; }
    SECTION("size above QueueNumMax") { c.size = 32; }
    SECTION("size that does not fit 16 bits") { num = 0x10008; }
    SECTION("ring outside memory") { c.used_addr = 1ull << 36; }
    SECTION("ring address above 4 GiB, far outside") { c.avail_addr = 0xffff'ffff'ffff'fff0ull; }
    SECTION("misaligned ring") { c.desc_addr = TestGuest::kDesc + 4; }
    rig.setup_queue(0, c, num);
    CHECK(rig.r(kQueueReady) == 0);
    CHECK(rig.transport.needs_reset());
    CHECK((rig.status() & kStatusNeedsReset) != 0);
    CHECK((rig.r(kMmioInterruptStatus) & kInterruptConfigChange) != 0);
    REQUIRE(!rig.published.empty());
    CHECK((rig.published.back() & kInterruptConfigChange) != 0);
    CHECK(rig.irq->count >= 1);
    REQUIRE(!rig.errors.empty());
    CHECK(rig.errors.front().rfind("virtio-4 queue 0: ", 0) == 0);
    // NEEDS_RESET: the device is not brought up until a reset.
    rig.driver_ok();
    CHECK_FALSE(rig.transport.driver_ok());
}

TEST_CASE("virtio-mmio: a hostile chain sets NEEDS_RESET and stops processing until reset", "[virtio]") {
    Rig rig;
    rig.bring_up();
    rig.device.processed.clear();
    rig.guest.desc(0, TestGuest::kMemSize - 4, 8, kDescFlagWrite);  // crosses the end of memory
    rig.guest.make_available(0);
    rig.transport.notify(0);
    CHECK(rig.transport.needs_reset());
    CHECK((rig.status() & kStatusNeedsReset) != 0);
    CHECK((rig.r(kMmioInterruptStatus) & kInterruptConfigChange) != 0);
    REQUIRE(rig.errors.size() == 1);
    CHECK(rig.errors[0].rfind("virtio-4 queue 0: ", 0) == 0);
    CHECK(rig.errors[0].find("outside guest memory") != std::string::npos);

    rig.transport.notify(0);
    CHECK(rig.device.processed.size() == 1);  // not processed again
    CHECK(rig.errors.size() == 1);

    // A device-thrown QueueError takes the same path.
    rig.w(kStatus, 0);
    rig.guest.clear();
    rig.bring_up();
    rig.device.throw_on_process = true;
    rig.transport.notify(0);
    CHECK(rig.transport.needs_reset());
    REQUIRE(rig.errors.size() == 2);
    CHECK(rig.errors[1] == "virtio-4 queue 0: fake trouble");
}

TEST_CASE("virtio-mmio reset clears everything and the device can be set up again", "[virtio]") {
    Rig rig;
    rig.bring_up(kFeatureVersion1 | kFeatureRingEventIdx);
    rig.guest.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    rig.guest.make_available(0);
    rig.transport.notify(0);
    REQUIRE(rig.r(kMmioInterruptStatus) != 0);
    // Make it fail, too.
    rig.guest.make_available(9);
    rig.transport.notify(0);
    REQUIRE(rig.transport.needs_reset());

    rig.w(kStatus, 0);
    CHECK(rig.status() == 0);
    CHECK(rig.device.resets == 1);
    CHECK_FALSE(rig.transport.driver_ok());
    CHECK_FALSE(rig.transport.needs_reset());
    CHECK(rig.r(kMmioInterruptStatus) == 0);
    CHECK(rig.published.back() == 0);
    rig.w(kQueueSel, 0);
    CHECK(rig.r(kQueueReady) == 0);
    const auto processed = rig.device.processed.size();
    rig.transport.notify(0);
    CHECK(rig.device.processed.size() == processed);

    // From scratch: fresh rings, negotiated anew.
    rig.guest.clear();
    rig.device.activated = false;
    rig.bring_up();
    CHECK(rig.device.activated);
    CHECK(rig.device.active_features == kFeatureVersion1);
    rig.guest.desc(2, TestGuest::kData, 4, kDescFlagWrite);
    rig.guest.make_available(2);
    rig.transport.notify(0);
    CHECK(rig.guest.used_idx() == 1);
    CHECK(rig.guest.used_id(0) == 2);
}

TEST_CASE("virtio-mmio interrupt status is published and cleared by InterruptACK", "[virtio]") {
    Rig rig;
    rig.bring_up();
    rig.published.clear();
    rig.guest.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    rig.guest.make_available(0);
    rig.transport.notify(0);
    CHECK(rig.irq->count == 1);
    REQUIRE(rig.published.size() == 1);
    CHECK(rig.published.back() == kInterruptUsedBuffer);
    CHECK(rig.r(kMmioInterruptStatus) == kInterruptUsedBuffer);

    rig.w(kMmioInterruptAck, kInterruptConfigChange);  // not pending: nothing changes
    CHECK(rig.r(kMmioInterruptStatus) == kInterruptUsedBuffer);
    rig.w(kMmioInterruptAck, kInterruptUsedBuffer);
    CHECK(rig.r(kMmioInterruptStatus) == 0);
    CHECK(rig.published.back() == 0);

    // NO_INTERRUPT (no EVENT_IDX negotiated): the used buffer is returned silently.
    rig.guest.set_avail_flags(kAvailFlagNoInterrupt);
    rig.guest.make_available(0);
    rig.transport.notify(0);
    CHECK(rig.guest.used_idx() == 2);
    CHECK(rig.irq->count == 1);
    CHECK(rig.r(kMmioInterruptStatus) == 0);
}

TEST_CASE("virtio-mmio config space accesses are bounded", "[virtio]") {
    Rig rig;  // config: 01 02 03 04 05 06
    CHECK(rig.transport.read(kMmioConfigSpace, 1) == 0x01);
    CHECK(rig.transport.read(kMmioConfigSpace + 1, 2) == 0x0302);
    CHECK(rig.transport.read(kMmioConfigSpace + 2, 4) == 0x06050403);
    CHECK(rig.transport.read(kMmioConfigSpace + 5, 1) == 0x06);
    CHECK(rig.transport.read(kMmioConfigSpace + 3, 4) == 0);  // crosses the end
    CHECK(rig.transport.read(kMmioConfigSpace + 6, 1) == 0);
    CHECK(rig.transport.read(kMmioConfigSpace + 0xe00, 4) == 0);
    CHECK(rig.transport.read(~uint64_t{0}, 4) == 0);
    CHECK(rig.transport.read(kMmioConfigSpace, 8) == 0);  // 64-bit: two 32-bit reads instead
    CHECK(rig.transport.read(kMmioConfigSpace, 3) == 0);

    rig.transport.write(kMmioConfigSpace + 4, 2, 0xbbaa);
    CHECK(rig.device.config[4] == 0xaa);
    CHECK(rig.device.config[5] == 0xbb);
    rig.transport.write(kMmioConfigSpace + 4, 4, 0xffffffff);  // crosses the end: dropped
    rig.transport.write(~uint64_t{0} - 1, 2, 0xffff);
    CHECK(rig.device.config == std::vector<uint8_t>{1, 2, 3, 4, 0xaa, 0xbb});
}

TEST_CASE("virtio-mmio register writes during queue processing never wait for it", "[virtio]") {
    Rig rig;
    rig.bring_up();
    rig.guest.desc(0, TestGuest::kData, 8, kDescFlagWrite);
    rig.guest.make_available(0);
    const uint32_t before = rig.status();
    const size_t processed = rig.device.processed.size();
    // While the queue is processed (think: a long batch), the driver resets the device
    // and pokes QueueReady and Status. The accesses run on this very thread, so a write
    // that waited for the queue lock would deadlock the test instead of returning.
    rig.device.while_processing = [&] {
        rig.device.while_processing = {};
        rig.w(kQueueReady, 1);
        rig.w(kStatus, 0);
        CHECK(rig.status() == before);       // not reset yet: the driver must keep reading
        rig.w(kStatus, kStatusAcknowledge);  // ignored until the reset is done
        CHECK(rig.device.resets == 0);
    };
    rig.transport.notify(0);
    CHECK(rig.device.processed.size() == processed + 1);
    // The reset happened as soon as processing ended.
    CHECK(rig.status() == 0);
    CHECK(rig.device.resets == 1);
    CHECK_FALSE(rig.transport.driver_ok());
    rig.guest.clear();
    rig.bring_up();
    CHECK(rig.transport.driver_ok());
}
