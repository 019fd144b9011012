#include "vmm/disk/disk_image.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "vmm/error.h"

using namespace brig;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::vector<uint8_t> bytes(std::string_view s, size_t pad_to = disk::kHeaderBytes) {
    std::vector<uint8_t> v(s.begin(), s.end());
    if (v.size() < pad_to) v.resize(pad_to, 0);
    return v;
}

struct TempImage {
    std::string path;
    explicit TempImage(const std::vector<uint8_t>& content) {
        char tmpl[] = "/tmp/brig-disk-test-XXXXXX";
        const int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        close(fd);
        path = tmpl;
    }
    ~TempImage() { std::remove(path.c_str()); }
};

std::string error_of(const DiskOption& disk) {
    try {
        disk::open_image(disk);
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("container formats are recognised by their magic", "[disks]") {
    using namespace std::string_view_literals;
    CHECK(disk::unsupported_format(bytes("QFI\xfb\0\0\0\3"sv)) == "qcow2");
    CHECK(disk::unsupported_format(bytes("QED\0"sv)) == "QED");
    CHECK(disk::unsupported_format(bytes("KDMV\1\0\0\0"sv)) == "VMDK");
    CHECK(disk::unsupported_format(bytes("# Disk DescriptorFile\nversion=1\n")) == "VMDK");
    CHECK(disk::unsupported_format(bytes("vhdxfile")) == "VHDX");
    CHECK(disk::unsupported_format(bytes("conectix")) == "VHD (dynamic)");
    CHECK(disk::unsupported_format(bytes("LUKS\xba\xbe\0\1"sv)) == "LUKS");
    auto vdi = bytes("<<< Oracle VM VirtualBox Disk Image >>>\n");
    const uint8_t signature[] = {0x7f, 0x10, 0xda, 0xbe};
    std::copy(std::begin(signature), std::end(signature), vdi.begin() + 0x40);
    CHECK(disk::unsupported_format(vdi) == "VDI");
}

TEST_CASE("raw data, and magic cut short or off its offset, is not a format", "[disks]") {
    using namespace std::string_view_literals;
    CHECK_FALSE(disk::unsupported_format(bytes("")));
    CHECK_FALSE(disk::unsupported_format(bytes("\xeb\x63\x90MSWIN4.1"sv)));  // a FAT boot sector
    CHECK_FALSE(disk::unsupported_format(bytes("QFI", 3)));                  // shorter than the magic
    CHECK_FALSE(disk::unsupported_format(bytes("QFI\xfa"sv)));
    CHECK_FALSE(disk::unsupported_format(bytes("xQFI\xfb"sv)));  // not at offset 0
    CHECK_FALSE(disk::unsupported_format(bytes("", 0x43)));      // too short for the VDI offset
}

TEST_CASE("open_image refuses a qcow2 image, a partial sector and a missing file with one --disk line", "[disks]") {
    using namespace std::string_view_literals;
    TempImage qcow2(bytes("QFI\xfb\0\0\0\3"sv, 4096));
    CHECK_THAT(error_of({qcow2.path, false}), StartsWith("--disk: " + qcow2.path + ": a qcow2 image"));
    CHECK_THAT(error_of({qcow2.path, true}), StartsWith("--disk: " + qcow2.path + ",ro: a qcow2 image"));

    TempImage odd(std::vector<uint8_t>(1000, 0));
    CHECK_THAT(error_of({odd.path, false}), StartsWith("--disk: " + odd.path + ": its size, 1000 bytes"));

    CHECK_THAT(error_of({"/nonexistent/brig-disk", false}), StartsWith("--disk: /nonexistent/brig-disk: cannot open"));

    TempImage raw(std::vector<uint8_t>(4096, 0));
    CHECK(error_of({raw.path, false}) == "no error");
}

TEST_CASE("open_image: one writer alone, or any number of readers", "[disks]") {
    TempImage image(std::vector<uint8_t>(4096, 0));
    SECTION("writable twice in one process conflicts (the lock is per open file description)") {
        const base::UniqueFd first = disk::open_image({image.path, false});
        CHECK_THAT(error_of({image.path, false}), Contains("in use"));
        CHECK_THAT(error_of({image.path, true}), Contains("in use for writing"));
    }
    SECTION("read-only twice is fine, and a reader keeps writers out") {
        const base::UniqueFd a = disk::open_image({image.path, true});
        const base::UniqueFd b = disk::open_image({image.path, true});
        CHECK(a.valid());
        CHECK(b.valid());
        CHECK_THAT(error_of({image.path, false}), StartsWith("--disk: " + image.path + ": the image is in use"));
    }
    SECTION("the lock goes with the last fd") {
        { const base::UniqueFd first = disk::open_image({image.path, false}); }
        CHECK(error_of({image.path, false}) == "no error");
    }
}
