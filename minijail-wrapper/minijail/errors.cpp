#include "minijail-wrapper/minijail/errors.h"

#include <cstring>

namespace minijail {

std::string errno_name(int error) {
    const char* name = error > 0 ? strerrorname_np(error) : nullptr;
    return name ? name : "";
}

std::string errno_text(int error) {
    std::string name = errno_name(error);
    if (name.empty()) name = "errno " + std::to_string(error);
    return name + " (" + strerror(error) + ")";
}

SystemError::SystemError(const std::string& step, int error)
    : std::runtime_error(step + ": " + errno_text(error)), error_(error) {}

void throw_errno(const std::string& step, int error) { throw SystemError(step, error); }

}  // namespace minijail
