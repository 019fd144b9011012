// Error reporting for the minijail wrapper: every failure is an exception whose
// what() is one line, "STEP: ENAME (message)".
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace minijail {

// A failed system call. what() is "step: ENAME (message)", e.g.
// "pivot_root: EPERM (Operation not permitted)".
class SystemError : public std::runtime_error {
public:
    SystemError(const std::string& step, int error);
    int error() const { return error_; }

private:
    int error_;
};

// "EPERM (Operation not permitted)"; "errno 4242" for an unknown value.
std::string errno_text(int error);

// The symbolic name of an errno value ("ENOENT"), or "" if unknown.
std::string errno_name(int error);

[[noreturn]] void throw_errno(const std::string& step, int error = errno);

}  // namespace minijail
