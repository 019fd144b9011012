#include "vmm/devices/stall_watch.h"

#include <catch2/catch.hpp>

using namespace brig;
using namespace std::chrono_literals;

TEST_CASE("a /proc stat line gives the state and the CPU time, whatever the command name", "[devices]") {
    const auto a = parse_proc_stat("4242 (brig-device) S 1 4242 4242 0 -1 4194560 120 0 0 0 7 5 0 0 20 0 3 0 99");
    REQUIRE(a);
    CHECK(a->state == 'S');
    CHECK(a->cpu_ticks == 12);
    const auto b = parse_proc_stat("7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 30 40 0 0");
    REQUIRE(b);
    CHECK(b->state == 'R');
    CHECK(b->cpu_ticks == 70);
    CHECK_FALSE(parse_proc_stat(""));
    CHECK_FALSE(parse_proc_stat("4242 (brig-device) S 1 2"));
}

TEST_CASE("a device is hung only after owing an answer for the limit without running or being able to", "[devices]") {
    StallWatch watch(1000ms);
    const auto t0 = StallWatch::Clock::now();
    const ProcessActivity asleep{false, 10};
    CHECK_FALSE(watch.observe(t0, true, asleep));
    CHECK_FALSE(watch.observe(t0 + 500ms, true, asleep));
    CHECK(watch.observe(t0 + 1000ms, true, asleep));

    SECTION("waiting for a CPU is not a hang") {
        StallWatch w(1000ms);
        for (int i = 0; i <= 50; ++i) CHECK_FALSE(w.observe(t0 + i * 200ms, true, ProcessActivity{true, 10}));
    }
    SECTION("running, even without answering, is not a hang") {
        StallWatch w(1000ms);
        for (uint64_t i = 0; i <= 50; ++i) CHECK_FALSE(w.observe(t0 + i * 200ms, true, ProcessActivity{false, 10 + i}));
    }
    SECTION("idle with nothing owed is not a hang, and owing starts the clock") {
        StallWatch w(1000ms);
        for (int i = 0; i <= 10; ++i) CHECK_FALSE(w.observe(t0 + i * 200ms, false, asleep));
        CHECK_FALSE(w.observe(t0 + 2200ms, true, asleep));
        CHECK_FALSE(w.observe(t0 + 3000ms, true, asleep));
        CHECK(w.observe(t0 + 3200ms, true, asleep));
    }
    SECTION("no reading of the threads is never a verdict") {
        StallWatch w(1000ms);
        CHECK_FALSE(w.observe(t0, true, std::nullopt));
        CHECK_FALSE(w.observe(t0 + 5000ms, true, std::nullopt));
    }
}
