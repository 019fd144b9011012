#include "vmm/console/output_relay.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <spdlog/spdlog.h>

namespace brig {

OutputRelay::OutputRelay(std::string device, base::UniqueFd read_end, int out)
    : device_(std::move(device)), read_end_(std::move(read_end)), out_(out) {
    fcntl(read_end_.get(), F_SETFL, O_NONBLOCK);  // our own pipe; stdout stays as it is
}

void OutputRelay::read_available() {
    uint8_t buf[PIPE_BUF];
    while (open_) {
        const ssize_t n = ::read(read_end_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (n < 0 && errno != EAGAIN)) open_ = false;  // the device is gone
        if (n <= 0) return;
        const size_t room = kCapacity - std::min(kCapacity, pending_.size());
        const size_t taken = std::min(room, static_cast<size_t>(n));
        pending_.insert(pending_.end(), buf, buf + taken);
        dropped_ += static_cast<size_t>(n) - taken;
        if (taken < static_cast<size_t>(n)) return;  // full: let stdout catch up first
    }
}

void OutputRelay::write_some() {
    if (pending_.empty()) return;
    uint8_t buf[PIPE_BUF];
    const size_t n = std::min(pending_.size(), sizeof buf);
    std::copy_n(pending_.begin(), n, buf);
    const ssize_t written = ::write(out_, buf, n);
    if (written > 0) {
        pending_.erase(pending_.begin(), pending_.begin() + written);
    } else if (written < 0 && errno != EINTR && errno != EAGAIN) {
        dropped_ += pending_.size();  // stdout is gone: nobody will read this
        pending_.clear();
    }
}

void OutputRelay::finish(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (open_ || backlogged()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd fds[2] = {{has_room() ? read_fd() : -1, POLLIN, 0}, {backlogged() ? out_ : -1, POLLOUT, 0}};
        if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
        if (fds[0].revents) read_available();
        if (fds[1].revents) write_some();
    }
    dropped_ += pending_.size();
    pending_.clear();
    if (dropped_ > 0)
        spdlog::warn("[{}] console output: {} bytes dropped while stdout was not keeping up", device_, dropped_);
    read_end_.reset();
    open_ = false;
}

}  // namespace brig
