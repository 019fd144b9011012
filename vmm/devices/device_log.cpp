#include "vmm/devices/device_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <spdlog/spdlog.h>

#include "ipc/control_text.h"

namespace brig {
namespace {
constexpr size_t kReadChunk = 4096;
constexpr size_t kMaxDrainBytes = 256 * 1024;  // per call: a flooding device cannot hold the supervisor

// The level brig logs a device's lines at: the device only writes lines at or above
// brig's level, so they are shown whenever brig shows anything but debug chatter.
spdlog::level::level_enum device_line_level() { return std::max(spdlog::get_level(), spdlog::level::info); }
}  // namespace

DeviceLog::DeviceLog(std::string device, base::UniqueFd read_end)
    : device_(std::move(device)), fd_(std::move(read_end)) {
    fcntl(fd_.get(), F_SETFL, O_NONBLOCK);  // our own pipe: nobody else shares it
}

void DeviceLog::drain() {
    if (!fd_) return;
    char buf[kReadChunk];
    for (size_t total = 0; total < kMaxDrainBytes;) {
        const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n <= 0) break;
        total += static_cast<size_t>(n);
        for (ssize_t i = 0; i < n; ++i) {
            const char c = buf[i];
            if (c == '\n') {
                line(std::move(partial_));
                partial_.clear();
            } else if (partial_.size() <= ipc::kMaxReportChars) {
                partial_.push_back(c);  // the rest of an over-long line is cut
            }
        }
    }
}

void DeviceLog::finish() {
    drain();
    if (!partial_.empty()) line(std::move(partial_));
    partial_.clear();
    if (dropped_ > 0) spdlog::warn("[{}] {} more lines from the device were not shown", device_, dropped_);
    dropped_ = 0;
    fd_.reset();  // at EOF now; a hung-up pipe would wake every poll
}

bool DeviceLog::admit() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - refilled_).count();
    refilled_ = now;
    tokens_ = std::min<double>(kBurstLines, tokens_ + seconds * kLinesPerSecond);
    if (tokens_ < 1) {
        ++dropped_;
        return false;
    }
    tokens_ -= 1;
    if (dropped_ > 0) {
        spdlog::warn("[{}] {} lines from the device were not shown", device_, dropped_);
        dropped_ = 0;
    }
    return true;
}

void DeviceLog::line(std::string text) {
    if (text.empty() || !admit()) return;
    spdlog::log(device_line_level(), "[{}] device: {}", device_, ipc::sanitize_report(text));
}

}  // namespace brig
