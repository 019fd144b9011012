#include "base/error.h"

#include <cstring>

namespace base {

std::string errno_name(int error) {
    const char* name = error > 0 ? strerrorname_np(error) : nullptr;
    return name ? name : "";
}

std::string errno_text(int error) {
    std::string name = errno_name(error);
    if (name.empty()) name = "errno " + std::to_string(error);
    return name + " (" + std::strerror(error) + ")";
}

std::string errno_message(std::string_view what, int error) { return std::string(what) + ": " + errno_text(error); }

SystemError::SystemError(std::string_view what, int error)
    : std::runtime_error(errno_message(what, error)), error_(error) {}

void throw_errno(std::string_view what, int error) { throw SystemError(what, error); }

}  // namespace base
