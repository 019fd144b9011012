#include "vmm/console/console_input.h"

#include <unistd.h>

#include <cerrno>

namespace brig {

ConsoleInput::Sink ConsoleInput::pipe_sink(int fd) {
    return [fd](std::span<const uint8_t> bytes) -> size_t {
        if (bytes.empty()) return 0;
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n >= 0) return static_cast<size_t>(n);
        return errno == EAGAIN || errno == EINTR ? 0 : bytes.size();
    };
}

bool ConsoleInput::read_stdin() {
    uint8_t buf[256];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n > 0) {
        const std::span<const uint8_t> typed(buf, static_cast<size_t>(n));
        if (!terminal_.is_terminal())
            pending_.insert(pending_.end(), typed.begin(), typed.end());  // a pipe's bytes are all data
        else if (escape_.feed(typed, pending_) == ConsoleEscape::Action::Quit)
            return true;
        if (pending_.size() > kMaxTypedBacklog) pending_.resize(kMaxTypedBacklog);
    } else if (n < 0 && errno == EINTR) {
        terminal_.refresh();  // SIGTTIN: brig went to the background
    } else if (n == 0 || errno != EAGAIN) {
        open_ = false;  // EOF or a dead stdin: the guest simply gets no more input
    }
    flush();
    return false;
}

void ConsoleInput::flush() {
    const size_t taken = sink_(pending_);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
}

}  // namespace brig
