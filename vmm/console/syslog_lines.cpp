#include "vmm/console/syslog_lines.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace brig {
namespace {
constexpr int kUserInfo = (1 << 3) | 6;  // LOG_USER | LOG_INFO
}

SyslogLines::SyslogLines(std::string device, base::UniqueFd read_end, base::UniqueFd socket, std::string tag)
    : device_(std::move(device)), read_end_(std::move(read_end)), socket_(std::move(socket)), tag_(std::move(tag)) {
    fcntl(read_end_.get(), F_SETFL, O_NONBLOCK);
}

void SyslogLines::read_available() {
    char buf[PIPE_BUF];
    while (open_) {
        const ssize_t n = ::read(read_end_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (n < 0 && errno != EAGAIN)) open_ = false;  // the device is gone
        if (n <= 0) return;
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == '\n' || partial_.size() == kMaxLine) {
                send(partial_);
                partial_.clear();
                if (buf[i] == '\n') continue;
            }
            partial_ += buf[i];
        }
    }
}

void SyslogLines::finish() {
    read_available();
    if (!partial_.empty()) send(partial_);
    partial_.clear();
    if (dropped_ > 0) spdlog::warn("[{}] syslog: {} lines dropped (syslog was gone or full)", device_, dropped_);
}

void SyslogLines::send(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string datagram = fmt::format("<{}>{}: {}", kUserInfo, tag_, line);
    if (::write(socket_.get(), datagram.data(), datagram.size()) < 0) ++dropped_;
}

}  // namespace brig
