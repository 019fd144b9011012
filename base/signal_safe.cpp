#include "base/signal_safe.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace base {

void write_all(int fd, const char* data, size_t size) noexcept {
    for (int interrupted = 0; size > 0;) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR && ++interrupted < 3) continue;
        if (n <= 0) return;
        data += n;
        size -= static_cast<size_t>(n);
    }
}

void write_text(int fd, const char* text) noexcept { write_all(fd, text, std::strlen(text)); }

}  // namespace base
