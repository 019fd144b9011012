// How failures are reported, everywhere (brig, its devices and minijail-wrapper):
//
// - By exception, never by return code, with a one-line what().
// - A failed system call is raised with `throw_errno(what)`, which throws SystemError
//   with what() "what: ENAME (description)", e.g. "pivot_root: EPERM (Operation not
//   permitted)". Nothing else formats errno for an error: errno_message() gives the
//   same text where a domain error must carry it (see below), errno_text() the part
//   after "what: " for a log line.
// - A domain error is its own subclass of std::runtime_error where a caller catches it
//   by type: brig's exit-code classes (vmm/error.h), minijail's PolicyError (file and
//   line), ipc's MailboxError and DeviceControlError, virtio's QueueError.
// - Code that may neither allocate nor throw (a signal handler, a child between fork
//   and exec) keeps raw errno and reports with base/signal_safe.h.
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
