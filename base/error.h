// How failures are reported, everywhere (brig, its devices, minijail-wrapper): one idiom.
//
// - A failure is an exception whose what() is one line. A bool or std::optional return
//   only says an expected outcome that the caller handles on the spot (not found, would
//   block), never an error for someone further up.
// - A failed system call is raised with `throw_errno(what)`: a SystemError whose what()
//   is "what: ENAME (description)", e.g. "pivot_root: EPERM (Operation not permitted)".
//   That is the one formatting of errno: errno_message() gives it where a domain error
//   must carry it, errno_text() its tail for a log line.
// - A domain error is a subclass of std::runtime_error where a caller catches it by
//   type: brig's exit-status classes (vmm/error.h), minijail's PolicyError (file:line),
//   ipc's MailboxError and DeviceControlError, virtio's QueueError. An operator's own
//   mistake found by a failed call ("--kernel: cannot open PATH: No such file or
//   directory") is such a domain error (InvalidArgument) and says why in words only.
// - Code that may neither allocate nor throw (a signal handler, a child between fork
//   and exec) keeps raw errno and writes with base/signal_safe.h.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>

namespace base {

// A failed system call.
class SystemError : public std::runtime_error {
public:
    SystemError(std::string_view what, int error);
    int error() const { return error_; }

private:
    int error_;
};

// The symbolic name of an errno value ("ENOENT"), or "" if it has none.
std::string errno_name(int error);

// "ENOENT (No such file or directory)"; "errno 4242 (Unknown error 4242)" for a value
// without a name.
std::string errno_text(int error);

// "what: ENOENT (No such file or directory)": SystemError's what().
std::string errno_message(std::string_view what, int error = errno);

[[noreturn]] void throw_errno(std::string_view what, int error = errno);

}  // namespace base
