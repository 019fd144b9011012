// README.md shows `brig run --help` as it is: the test fails when the two drift.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "vmm/cli/cli.h"

TEST_CASE("README's usage block is exactly `brig run --help`", "[cli]") {
    std::ifstream file(BRIG_SOURCE_ROOT "/README.md");
    REQUIRE(file.good());
    std::stringstream readme;
    readme << file.rdbuf();
    const std::string text = readme.str();
    constexpr std::string_view kOpen = "```\nUsage: brig run ";
    const auto start = text.find(kOpen);
    INFO("README.md needs a fenced block starting with `Usage: brig run`: paste the output of `brig run --help`");
    REQUIRE(start != std::string::npos);
    const auto body = start + 4;  // after "```\n"
    const auto end = text.find("\n```", body);
    REQUIRE(end != std::string::npos);
    const std::string block = text.substr(body, end + 1 - body);
    CHECK(block == brig::run_help());
    CHECK(text.find(kOpen, end) == std::string::npos);  // one such block
}
