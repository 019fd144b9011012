// A typed wait set over poll(2), like crosvm's WaitContext<Token>: each fd is added
// with the token that says what it is, and the ready ones come back as tokens, so no
// loop depends on where in an array an fd happened to land.
#pragma once

#include <poll.h>

#include <cstddef>
#include <vector>

namespace brig::ipc {

template <typename Token>
class PollSet {
public:
    struct Ready {
        Token token;
        short revents;
    };

    void clear() {
        fds_.clear();
        tokens_.clear();
    }
    // A negative fd is skipped (nothing to wait for), as poll(2) would.
    void add(int fd, short events, Token token) {
        if (fd < 0) return;
        fds_.push_back({fd, events, 0});
        tokens_.push_back(token);
    }
    // poll(2): the number of ready fds, 0 on timeout, -1 with errno set.
    int wait(int timeout_ms) { return ::poll(fds_.data(), fds_.size(), timeout_ms); }
    // After wait(): every fd with events, in the order they were added.
    std::vector<Ready> ready() const {
        std::vector<Ready> out;
        for (std::size_t i = 0; i < fds_.size(); ++i)
            if (fds_[i].revents) out.push_back({tokens_[i], fds_[i].revents});
        return out;
    }

private:
    std::vector<pollfd> fds_;
    std::vector<Token> tokens_;
};

}  // namespace brig::ipc
