// Compiled only into brig-device-test (see test_hooks.h).
#include "common/test_hooks.h"

#include <fcntl.h>
#include <poll.h>

#include <chrono>
#include <thread>


namespace brig::devices::test_hooks {
namespace {
constexpr uint64_t kScratchOffset = 7;
constexpr uint8_t kForbiddenSyscall = 0xf1;
constexpr uint8_t kMalformedReply = 0xf2;
constexpr uint8_t kStopAnswering = 0xe4;
}  // namespace

void on_serial_write(uint64_t offset, uint8_t value, ipc::MailboxServer& mailbox) {
    if (offset != kScratchOffset) return;
    if (value == kForbiddenSyscall) {
        // No device policy allows opening files: the filter must kill us here.
        [[maybe_unused]] int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    } else if (value == kMalformedReply) {
        mailbox.inject_malformed_reply_for_testing();
    } else if (value == kStopAnswering) {
        for (;;) poll(nullptr, 0, -1);  // the mailbox thread never answers again
    } else {
        request_control_hook(value);
    }
}

void on_rng_request(uint64_t bytes) {
    constexpr uint64_t kSlowRngRequest = 4093;  // tests/guest/mode_guest_errors.c
    if (bytes == kSlowRngRequest) std::this_thread::sleep_for(std::chrono::milliseconds(2500));
}

}  // namespace brig::devices::test_hooks
