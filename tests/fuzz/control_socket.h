// The control-path targets' shared pieces: a socket pair and a hostile peer's
// writes, sent whole and then followed by a hang-up.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <span>
#include <string>
#include <utility>

#include "base/unique_fd.h"
#include "tests/fuzz/fuzz_target.h"

namespace brig::fuzz {

// Long enough for an answer already in the socket; short, because a device that sends
// some frames (an Abort among them) and hangs up can leave brig's call waiting for
// its deadline instead of failing at once, and each such input would cost it whole.
inline constexpr std::chrono::milliseconds kCommandTimeout{20};

inline std::pair<base::UniqueFd, base::UniqueFd> stream_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
    return {base::UniqueFd(sv[0]), base::UniqueFd(sv[1])};
}

// Writes all of `bytes` (the socket buffer holds far more than a fuzz input), then
// half-closes: the peer reads them and then end-of-file.
inline void send_and_hang_up(int fd, std::span<const uint8_t> bytes) {
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
}

inline bool one_printable_line(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace brig::fuzz
