// A syslog daemon for --syslog-tag and --serial type=syslog: a datagram socket the
// test binds; brig-test sends there when $BRIG_TEST_SYSLOG_SOCKET names it.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace brig::test {

struct FakeSyslog {
    explicit FakeSyslog(const std::filesystem::path& at) : path(at) {
        fd = base::UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path.c_str());
        REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    }
    std::vector<std::string> take() {
        std::vector<std::string> lines;
        char buf[4096];
        for (ssize_t n; fd && (n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0;) lines.emplace_back(buf, size_t(n));
        return lines;
    }
    std::filesystem::path path;
    base::UniqueFd fd;
};

// Makes the child brig-test send its syslog lines to `syslog`.
inline std::function<void()> use_syslog(const FakeSyslog& syslog) {
    return [socket = syslog.path.string()] { ::setenv("BRIG_TEST_SYSLOG_SOCKET", socket.c_str(), 1); };
}

}  // namespace brig::test
