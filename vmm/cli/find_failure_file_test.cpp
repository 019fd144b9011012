#include <catch2/catch.hpp>
#include <sstream>

#include "vmm/cli/cli.h"
#include "vmm/error.h"

using brig::find_failure_file;

namespace {
std::optional<std::string> found(std::vector<std::string_view> args) {
    const auto value = find_failure_file(args);
    return value ? std::optional<std::string>(*value) : std::nullopt;
}
}  // namespace

TEST_CASE("find_failure_file: as the next word or inline, anywhere in `brig run`", "[cli]") {
    CHECK(found({"run", "--failure-file", "/f", "--kernel", "k"}) == "/f");
    CHECK(found({"run", "--kernel", "k", "--mem", "lots", "--failure-file=/f"}) == "/f");
    CHECK(found({"run", "--frobnicate", "--failure-file", "/f"}) == "/f");  // an unknown flag comes first
    CHECK(found({"run", "--kernel", "k"}) == std::nullopt);
    CHECK(found({"run", "--failure-file"}) == std::nullopt);
    CHECK(found({"run", "--failure-file="}) == std::nullopt);
    CHECK(found({"policy", "--failure-file", "/f"}) == std::nullopt);
}

TEST_CASE("find_failure_file: a value that reads --failure-file is a value", "[cli]") {
    CHECK(found({"run", "--cmdline", "--failure-file", "--failure-file", "/f"}) == "/f");
    CHECK(found({"run", "--cmdline=--failure-file", "--failure-file", "/f"}) == "/f");
    // Switches take no value: the word after one is the next flag.
    CHECK(found({"run", "--no-rng", "--failure-file", "/f"}) == "/f");
    CHECK(found({"run", "--rng", "--disable-sandbox", "--failure-file", "/f"}) == "/f");
}

TEST_CASE("find_failure_file agrees with the parser on which flags take a value", "[cli]") {
    // Every flag `brig run --help` lists; the parser says "missing value" for one that takes one.
    std::istringstream help(brig::run_help());
    int flags = 0;
    for (std::string line; std::getline(help, line);) {
        std::istringstream words(line);
        for (std::string word; words >> word && word.starts_with("--");) {
            if (word.ends_with(",")) word.pop_back();
            if (word == "--failure-file") continue;
            ++flags;
            bool takes_value = false;
            try {
                brig::parse_command_line({"run", word});
            } catch (const brig::InvalidArgument& e) {
                takes_value = std::string(e.what()) == word + ": missing value";
            }
            INFO(word);
            CHECK(found({"run", word, "--failure-file", "/f"}) ==
                  (takes_value ? std::nullopt : std::optional<std::string>("/f")));
        }
    }
    CHECK(flags > 15);
}
