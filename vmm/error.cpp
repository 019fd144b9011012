#include "vmm/error.h"

#include <cerrno>
#include <cstring>

namespace brig {

void throw_errno(const std::string& what) {
    const int err = errno;
    throw HostError(what + ": " + strerrorname_np(err) + " (" + std::strerror(err) + ")");
}

}  // namespace brig
