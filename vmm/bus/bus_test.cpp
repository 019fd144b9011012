#include "vmm/bus/bus.h"

#include <catch2/catch.hpp>
#include <vector>

#include "vmm/error.h"

using namespace brig;

namespace {
class RecordingDevice : public BusDevice {
public:
    std::string_view name() const override { return "recorder"; }
    void read(uint64_t offset, std::span<uint8_t> data) override {
        last_offset = offset;
        for (auto& b : data) b = 0x5a;
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        last_offset = offset;
        written.assign(data.begin(), data.end());
    }
    uint64_t last_offset = ~0ull;
    std::vector<uint8_t> written;
};
}  // namespace

TEST_CASE("bus routes accesses to the device with range-relative offsets", "[bus]") {
    Bus bus("pio");
    auto dev = std::make_shared<RecordingDevice>();
    bus.insert(dev, 0x3f8, 8);
    uint8_t byte = 0;
    REQUIRE(bus.read(0x3fd, std::span(&byte, 1)));
    CHECK(byte == 0x5a);
    CHECK(dev->last_offset == 5);
    const uint8_t out[2] = {1, 2};
    REQUIRE(bus.write(0x3f8, out));
    CHECK(dev->written == std::vector<uint8_t>{1, 2});
}

TEST_CASE("bus refuses accesses that straddle a range end and unclaimed addresses", "[bus]") {
    Bus bus("mmio");
    bus.insert(std::make_shared<RecordingDevice>(), 0x1000, 0x10);
    uint8_t four[4];
    CHECK_FALSE(bus.read(0x100e, four));
    CHECK_FALSE(bus.read(0xfff, std::span(four, 1)));
    CHECK_FALSE(bus.read(0x1010, std::span(four, 1)));
    CHECK(bus.read(0x100c, four));
}

TEST_CASE("bus refuses overlapping and wrapping ranges", "[bus]") {
    Bus bus("mmio");
    bus.insert(std::make_shared<RecordingDevice>(), 0x1000, 0x10);
    CHECK_THROWS_AS(bus.insert(std::make_shared<RecordingDevice>(), 0x100f, 1), HostError);
    CHECK_THROWS_AS(bus.insert(std::make_shared<RecordingDevice>(), 0xff0, 0x11), HostError);
    CHECK_THROWS_AS(bus.insert(std::make_shared<RecordingDevice>(), ~0ull, 2), HostError);
    CHECK_NOTHROW(bus.insert(std::make_shared<RecordingDevice>(), 0x1010, 1));
}
