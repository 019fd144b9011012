#include "vmm/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vmm/error.h"

using namespace brig;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/brig-output-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

std::string content(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string error_of(const std::filesystem::path& path) {
    try {
        open_output_file("--serial", path, O_TRUNC, 0600);
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("an output file behind a symbolic link is refused and its target left alone", "[output-file]") {
    TempDir dir;
    const auto target = dir.path / "precious";
    std::ofstream(target) << "keep me";
    const auto link = dir.path / "console.log";
    std::filesystem::create_symlink(target, link);
    CHECK_THAT(error_of(link), StartsWith("--serial: " + link.string() + " is a symbolic link"));
    CHECK(content(target) == "keep me");

    const auto dangling = dir.path / "dangling";
    std::filesystem::create_symlink(dir.path / "not-yet", dangling);
    CHECK_THAT(error_of(dangling), Contains("is a symbolic link"));
    CHECK_FALSE(std::filesystem::exists(dir.path / "not-yet"));
}

TEST_CASE("an output file is created, or truncated, through a real path", "[output-file]") {
    TempDir dir;
    const auto file = dir.path / "out";
    std::ofstream(file) << "old";
    {
        const base::UniqueFd fd = open_output_file("--serial", file, O_TRUNC, 0600);
        REQUIRE(fd.valid());
        REQUIRE(::write(fd.get(), "new", 3) == 3);
    }
    CHECK(content(file) == "new");
    CHECK_THAT(error_of(dir.path / "missing-dir" / "out"), StartsWith("--serial: cannot open"));
    // A link higher up the path is the operator's choice and is followed.
    std::filesystem::create_symlink(dir.path, dir.path / "alias");
    CHECK(error_of(dir.path / "alias" / "out") == "no error");
}
