#include "device-procs/common/buffered_output.h"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace brig::devices {
namespace {
constexpr size_t kWriteChunk = 16 * 1024;
constexpr int kPollMs = 100;  // how soon a writer waiting on its reader notices a stop
}  // namespace

BufferedOutput::BufferedOutput(int fd, size_t capacity) : fd_(fd), capacity_(capacity) {
    writer_ = std::thread([this] { run(); });
}

BufferedOutput::~BufferedOutput() {
    drain(kDrainOnDestroy);
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    writer_.join();
}

void BufferedOutput::write(std::span<const uint8_t> bytes) {
    {
        std::lock_guard lock(mutex_);
        const size_t room = capacity_ - std::min(capacity_, pending_.size());
        const size_t taken = std::min(room, bytes.size());
        pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
        dropped_ += bytes.size() - taken;
    }
    changed_.notify_all();
}

bool BufferedOutput::drain(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return pending_.empty() && !writing_; });
}

uint64_t BufferedOutput::dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

void BufferedOutput::run() {
    std::vector<uint8_t> chunk;
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, and nothing left
        const size_t n = std::min(kWriteChunk, pending_.size());
        chunk.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        writing_ = true;
        lock.unlock();
        size_t done = 0;
        bool closed = false;
        while (done < chunk.size()) {
            // The fd may be blocking and shared (a terminal), so it stays as it is: wait
            // for room, then write at most PIPE_BUF, which a pipe takes without blocking.
            pollfd p{fd_, POLLOUT, 0};
            const int ready = ::poll(&p, 1, kPollMs);
            if (ready == 0) {
                std::lock_guard check(mutex_);
                if (stopping_) {
                    closed = true;  // the reader never came back; what is left is dropped
                    break;
                }
                continue;
            }
            if (ready < 0 && errno == EINTR) continue;
            const ssize_t w = ready < 0 || (p.revents & (POLLERR | POLLNVAL))
                                  ? -1
                                  : ::write(fd_, chunk.data() + done, std::min<size_t>(PIPE_BUF, chunk.size() - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                closed = true;  // a closed or broken console must not stop the guest
                break;
            }
            done += static_cast<size_t>(w);
        }
        lock.lock();
        writing_ = false;
        if (closed) {
            dropped_ += chunk.size() - done + pending_.size();
            pending_.clear();
        }
        changed_.notify_all();
    }
}

}  // namespace brig::devices
