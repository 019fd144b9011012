#include "vmm/console/syslog_lines.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using brig::SyslogLines;

TEST_CASE("a syslog port sends one datagram a line, splits long ones, and sends a last partial line", "[console]") {
    int pipe_fds[2], dgram[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, dgram) == 0);
    base::UniqueFd write_end(pipe_fds[1]), daemon(dgram[1]);
    SyslogLines lines("serial2", base::UniqueFd(pipe_fds[0]), base::UniqueFd(dgram[0]), "brig-ttyS1");
    const std::string text = "first\r\nsecond\n" + std::string(SyslogLines::kMaxLine + 5, 'x') + "\nlast";
    REQUIRE(::write(write_end.get(), text.data(), text.size()) == ssize_t(text.size()));
    lines.read_available();
    write_end.reset();  // the device is gone
    lines.finish();
    std::vector<std::string> got;
    char buf[4096];
    for (ssize_t n; (n = ::recv(daemon.get(), buf, sizeof buf, 0)) > 0;) got.emplace_back(buf, size_t(n));
    REQUIRE(got.size() == 5);
    CHECK(got[0] == "<14>brig-ttyS1: first");
    CHECK(got[1] == "<14>brig-ttyS1: second");
    CHECK(got[2] == "<14>brig-ttyS1: " + std::string(SyslogLines::kMaxLine, 'x'));
    CHECK(got[3] == "<14>brig-ttyS1: xxxxx");
    CHECK(got[4] == "<14>brig-ttyS1: last");
    CHECK(lines.read_fd() == -1);
}
