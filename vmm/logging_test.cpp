#include "vmm/logging.h"

#include <catch2/catch.hpp>
#include <regex>

using brig::logging::json_line;

TEST_CASE("JSON log lines: time, level, component, pid, message; a device's words marked", "[logging]") {
    const auto now = std::chrono::system_clock::now();
    const std::string brig_line = json_line(spdlog::level::warn, now, "[vsock] guest ready (connected to port 7)");
    CHECK(std::regex_match(
        brig_line,
        std::regex(R"re(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warning",)re"
                   R"re("component":"vsock","pid":\d+,"message":"guest ready \(connected to port 7\)"\})re")));
    brig::logging::note_pid("serial", 4242);
    const std::string device_line = json_line(spdlog::level::info, now, "[serial] device: \"quoted\"\x01");
    CHECK(device_line.find(R"("component":"serial","pid":4242,"message":"\"quoted\"\u0001","device_text":true})") !=
          std::string::npos);
    CHECK(json_line(spdlog::level::info, now, "no component").find(R"("component":"brig")") != std::string::npos);
}
