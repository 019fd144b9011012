#include "vmm/exit_report.h"

#include <catch2/catch.hpp>

using brig::exit_report::flag_of;

TEST_CASE("exit_report: the flag an invalid-argument message names", "[exit-report]") {
    CHECK(flag_of("--mem: 'lots' is not a number") == "--mem");
    CHECK(flag_of("--frobnicate: unknown flag (see `brig run --help`)") == "--frobnicate");
    CHECK(flag_of("--failure-file: cannot open /x: No such file or directory") == "--failure-file");
    CHECK(flag_of("--seccomp=learn needs --policy-out") == "--seccomp");
    CHECK(flag_of("unknown command 'launch' (see `brig --help`)").empty());
    CHECK(flag_of("too many virtio devices (at most 8)").empty());
}
