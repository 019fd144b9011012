// Errors that cross a boundary carry their exit status and a one-line message. A failed
// system call is a base::SystemError (base/error.h: the one error idiom), which main()
// reports as it reports a HostError: exit 1, INTERNAL_ERROR.
#pragma once

#include <stdexcept>
#include <string>

namespace brig {

// crosvm-compatible exit statuses (see README "Exit codes").
enum class ExitCode : int {
    GuestShutdown = 0,
    Internal = 1,
    GuestReset = 32,
    DeviceCrash = 33,
    GuestPanic = 34,
    InvalidArguments = 35,
    Hangup = 36,
};

// Thrown for anything the user can fix: bad flags, bad files, bad images. Exit 35.
class InvalidArgument : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown when the host cannot do what brig needs (no /dev/kvm, a failed ioctl). Exit 1.
class HostError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown when a device process dies or misbehaves before the guest runs. Exit 33.
class DeviceCrashed : public std::runtime_error {
public:
    // `record_fields`: the --failure-file fields after DEVICE_CRASHED ("serial pid=12 signal=SIGSYS ...").
    explicit DeviceCrashed(const std::string& message, std::string record_fields = {})
        : std::runtime_error(message), record_fields_(std::move(record_fields)) {}
    const std::string& record_fields() const { return record_fields_; }

private:
    std::string record_fields_;
};

}  // namespace brig
