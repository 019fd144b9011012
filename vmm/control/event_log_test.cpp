#include "vmm/control/event_log.h"

#include <catch2/catch.hpp>
#include <regex>

using brig::control::EventLog;
using brig::control::json_string;

TEST_CASE("event log: JSON lines in order, each with its sequence and a UTC time", "[control]") {
    EventLog log;
    log.append("started");
    log.append("paused", ",\"vcpus\":2");
    auto all = log.after(0);
    REQUIRE(all.lines.size() == 2);
    CHECK(std::regex_match(
        all.lines[0], std::regex(R"(\{"seq":1,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","event":"started"\})")));
    CHECK(all.lines[1].find("\"seq\":2") != std::string::npos);
    CHECK(all.lines[1].find("\"event\":\"paused\",\"vcpus\":2}") != std::string::npos);
    CHECK(all.next == 2);
    CHECK_FALSE(all.ended);
    auto later = log.after(1);
    REQUIRE(later.lines.size() == 1);
    CHECK(log.after(2).lines.empty());
    CHECK(log.after(2).next == 2);
}

TEST_CASE("event log: a waiter is woken by the next event, or by the end", "[control]") {
    EventLog log;
    int woken = 0;
    log.on_next([&] { ++woken; });
    CHECK(woken == 0);
    log.append("resumed");
    CHECK(woken == 1);
    log.append("paused");  // once only
    CHECK(woken == 1);
    log.on_next([&] { ++woken; });
    log.end();
    CHECK(woken == 2);
    CHECK(log.after(0).ended);
    log.on_next([&] { ++woken; });  // after the end: at once
    CHECK(woken == 3);
    log.append("late");  // nothing after the end
    CHECK(log.after(0).lines.size() == 2);
}

TEST_CASE("event log: bounded, the oldest dropped", "[control]") {
    EventLog log;
    for (size_t i = 0; i < EventLog::kMaxEvents + 10; ++i) log.append("tick");
    const auto all = log.after(0);
    CHECK(all.lines.size() == EventLog::kMaxEvents);
    CHECK(all.lines[0].find("\"seq\":11,") != std::string::npos);
}

TEST_CASE("json_string escapes quotes, backslashes and control characters", "[control]") {
    CHECK(json_string("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json_string(std::string("x\n\x01", 3)) == R"("x\u000a\u0001")");
}
