// The fuzz targets in the ordinary unit suite: every committed seed
// (tests/fuzz/corpus/NAME/) and every crash a fuzzer found, minimised
// (tests/fuzz/regressions/NAME/), run through its target, in the normal and the
// sanitizer build. The policy target's seeds include the shipped policies.
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace fs = std::filesystem;
using brig::fuzz::targets;

namespace {

const fs::path kFuzzDir = fs::path(BRIG_SOURCE_ROOT) / "tests" / "fuzz";

// Recursively, as libFuzzer reads a corpus: corpus/policy/shipped links to policies/.
std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    if (fs::is_directory(dir))
        for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink))
            if (e.is_regular_file()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<uint8_t> contents(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void replay(const std::string& target, const fs::path& file) {
    const auto bytes = contents(file);
    INFO("target " << target << ", input " << file.string());
    // As under libFuzzer (fuzz_target.h init_once): hostile inputs log a line each, and
    // spdlog's default console sink is not what a device or brig logs through (its
    // isatty() would be refused by a device's filter, which brig-device never meets).
    const auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::off);
    try {
        targets().at(target)(bytes.data(), bytes.size());
    } catch (const brig::fuzz::InvariantBroken& e) {
        spdlog::set_level(level);
        FAIL(e.what);
    }
    spdlog::set_level(level);
}

}  // namespace

TEST_CASE("every fuzz target has a committed seed corpus", "[fuzz]") {
    std::set<std::string> registered, with_corpus;
    for (const auto& [name, fn] : targets()) registered.insert(name);
    for (const auto& e : fs::directory_iterator(kFuzzDir / "corpus"))
        if (!files_in(e.path()).empty()) with_corpus.insert(e.path().filename().string());
    CHECK(registered.size() >= 10);
    CHECK(registered == with_corpus);
}

TEST_CASE("fuzz seeds and regression inputs replay without a finding", "[fuzz]") {
    for (const auto& [name, fn] : targets()) {
        for (const auto& file : files_in(kFuzzDir / "corpus" / name)) replay(name, file);
        for (const auto& file : files_in(kFuzzDir / "regressions" / name)) replay(name, file);
    }
}
