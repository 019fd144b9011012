#include "base/eventfd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/error.h"

namespace base {

UniqueFd make_eventfd(std::string_view purpose) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) {
        const int error = errno;
        throw_errno("eventfd(" + std::string(purpose) + ")", error);
    }
    return fd;
}

bool signal_eventfd(int fd) noexcept {
    const uint64_t one = 1;
    return ::write(fd, &one, sizeof one) == sizeof one;
}

uint64_t drain_eventfd(int fd) noexcept {
    uint64_t count = 0;
    return ::read(fd, &count, sizeof count) == sizeof count ? count : 0;
}

}  // namespace base
