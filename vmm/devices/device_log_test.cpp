// DeviceLog: what a hostile device writes to its stderr reaches brig's log printable,
// one marked line per line, cut when too long, and rate-limited with a count.
#include "vmm/devices/device_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

using namespace brig;

namespace {

// Sends spdlog's default logger to a string for the test's life, one message per line.
class CapturedLog {
public:
    CapturedLog() : previous_(spdlog::default_logger()), previous_level_(spdlog::get_level()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
        sink->set_pattern("%l|%v");
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("device-log-test", sink));
        spdlog::set_level(spdlog::level::info);
    }
    ~CapturedLog() {
        spdlog::set_default_logger(previous_);
        spdlog::set_level(previous_level_);
    }
    std::vector<std::string> lines() const {
        std::vector<std::string> result;
        std::istringstream in(out_.str());
        for (std::string line; std::getline(in, line);) result.push_back(line);
        return result;
    }

private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> previous_;
    spdlog::level::level_enum previous_level_;
};

// The device's end of its stderr pipe, and brig's DeviceLog on the other.
struct DevicePipe {
    base::UniqueFd write_end;
    std::unique_ptr<DeviceLog> log;
    DevicePipe() {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        write_end.reset(p[1]);
        log = std::make_unique<DeviceLog>("virtio-evil0", base::UniqueFd(p[0]));
    }
    void write(const std::string& text) {
        REQUIRE(::write(write_end.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    }
};

}  // namespace

TEST_CASE("device log: control characters and 8-bit bytes become '?', every line is marked", "[device_log]") {
    CapturedLog captured;
    DevicePipe device;
    device.write("plain\n");
    device.write("\x1b]0;owned\x07\x1b[2J\r[brig] brig: SHUTDOWN: guest powered off\n");
    device.write("tab\there \xff\xfe\x7f del\n");
    device.log->drain();
    const auto lines = captured.lines();
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "info|[virtio-evil0] device: plain");
    CHECK(lines[1] == "info|[virtio-evil0] device: ?]0;owned??[2J?[brig] brig: SHUTDOWN: guest powered off");
    CHECK(lines[2] == "info|[virtio-evil0] device: tab?here ??? del");
    for (const auto& line : lines)
        for (const char c : line) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("device log: a line split across reads is one line; empty lines are dropped", "[device_log]") {
    CapturedLog captured;
    DevicePipe device;
    device.write("first ha");
    device.log->drain();
    CHECK(captured.lines().empty());  // not finished yet
    device.write("lf\n\n\nsecond\n");
    device.log->drain();
    const auto lines = captured.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "info|[virtio-evil0] device: first half");
    CHECK(lines[1] == "info|[virtio-evil0] device: second");
}

TEST_CASE("device log: an over-long line is cut at 200 characters, and the next line is whole", "[device_log]") {
    CapturedLog captured;
    DevicePipe device;
    device.write(std::string(10000, 'a') + "\nafter\n");
    device.log->drain();
    const auto lines = captured.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "info|[virtio-evil0] device: " + std::string(200, 'a') + "...");
    CHECK(lines[1] == "info|[virtio-evil0] device: after");
}

TEST_CASE("device log: a last unfinished line is logged when the device is gone", "[device_log]") {
    CapturedLog captured;
    DevicePipe device;
    device.write("dying words");
    device.write_end.reset();
    device.log->finish();
    const auto lines = captured.lines();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "info|[virtio-evil0] device: dying words");
    CHECK(device.log->fd() == -1);
}

TEST_CASE("device log: a flood is shown as a burst, then a count of the rest", "[device_log]") {
    CapturedLog captured;
    DevicePipe device;
    constexpr unsigned kFlood = 1000;
    std::string flood;
    for (unsigned i = 0; i < kFlood; ++i) flood += "line " + std::to_string(i) + "\n";
    device.write(flood);
    device.write_end.reset();
    device.log->finish();
    const auto lines = captured.lines();
    // The burst, plus the few the rate lets through while the test runs (20 a second).
    REQUIRE(lines.size() >= DeviceLog::kBurstLines + 1);
    const size_t shown = lines.size() - 1;
    CHECK(shown <= DeviceLog::kBurstLines + 5);
    for (size_t i = 0; i < DeviceLog::kBurstLines; ++i)
        CHECK(lines[i] == "info|[virtio-evil0] device: line " + std::to_string(i));
    CHECK(lines.back() ==
          "warning|[virtio-evil0] " + std::to_string(kFlood - shown) + " more lines from the device were not shown");
}
