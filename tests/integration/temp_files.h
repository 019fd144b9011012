// Scratch files and directories for the integration tests, removed when they go out of
// scope, and a scoped BRIG_DEVICE_BINARY for the tests that use brig-device-test.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace brig::test {

class TempFile {
public:
    // An empty file, or one holding `content`.
    explicit TempFile(const std::string& content = "") {
        char tmpl[] = "/tmp/brig-test-XXXXXX";
        const int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
        if (!content.empty()) std::ofstream(path, std::ios::binary) << content;
    }
    ~TempFile() { std::remove(path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    std::string content() const {
        std::ifstream in(path, std::ios::binary);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    std::vector<uint8_t> bytes() const {
        std::ifstream in(path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), {}};
    }
    void set(const std::vector<uint8_t>& data) const {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    }

    std::string path;
};

// A raw disk image of `size` bytes, every one `fill`.
class TempImage : public TempFile {
public:
    explicit TempImage(size_t size, uint8_t fill = 0) { set(std::vector<uint8_t>(size, fill)); }
};

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/brig-test-dir-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::filesystem::path path;
};

// Makes brig start devices from `path` (e.g. brig-device-test) for one scope.
class DeviceBinary {
public:
    explicit DeviceBinary(const std::string& path) { setenv("BRIG_DEVICE_BINARY", path.c_str(), 1); }
    ~DeviceBinary() { unsetenv("BRIG_DEVICE_BINARY"); }
    DeviceBinary(const DeviceBinary&) = delete;
    DeviceBinary& operator=(const DeviceBinary&) = delete;
};

}  // namespace brig::test
