#include "device-procs/common/buffered_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "base/unique_fd.h"

using brig::devices::BufferedOutput;

namespace {
struct Pipe {
    Pipe() {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        read_end.reset(p[0]);
        write_end.reset(p[1]);
    }
    std::string read_all_available() {
        REQUIRE(fcntl(read_end.get(), F_SETFL, O_NONBLOCK) == 0);
        std::string out;
        char buf[4096];
        for (ssize_t n; (n = ::read(read_end.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
        return out;
    }
    base::UniqueFd read_end, write_end;
};
}  // namespace

TEST_CASE("buffered output: writes arrive in order, and drain waits for them", "[console]") {
    Pipe pipe;
    BufferedOutput output(pipe.write_end.get());
    output.write(std::vector<uint8_t>{'a', 'b'});
    output.write(std::vector<uint8_t>{'c'});
    REQUIRE(output.drain(std::chrono::milliseconds(2000)));
    CHECK(pipe.read_all_available() == "abc");
    CHECK(output.dropped() == 0);
}

TEST_CASE("buffered output: a reader that never reads blocks no writer, and the excess is counted", "[console]") {
    Pipe pipe;
    REQUIRE(fcntl(pipe.write_end.get(), F_SETPIPE_SZ, 4096) >= 0);
    const auto started = std::chrono::steady_clock::now();
    {
        BufferedOutput output(pipe.write_end.get(), 8192);
        const std::vector<uint8_t> chunk(1024, 'x');
        for (int i = 0; i < 64; ++i) output.write(chunk);  // 64 KiB into 4 KiB + 8 KiB
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
        CHECK_FALSE(output.drain(std::chrono::milliseconds(100)));
        // Kept: the pipe (4 KiB), the buffer (8 KiB) and the chunk the writer holds (at
        // most the buffer's size); the rest was dropped.
        CHECK(output.dropped() >= 64 * 1024 - 4096 - 2 * 8192);
    }  // and destruction gives up on the reader within its bound
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
}
