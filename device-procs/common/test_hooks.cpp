// Compiled only into brig-device-test (see test_hooks.h).
#include "device-procs/common/test_hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include <chrono>
#include <thread>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace brig::devices::test_hooks {
namespace {
constexpr uint64_t kScratchOffset = 7;
constexpr uint8_t kForbiddenSyscall = 0xf1;
constexpr uint8_t kMalformedReply = 0xf2;
constexpr uint8_t kStopAnswering = 0xe4;
constexpr uint8_t kOwnSigsysHandler = 0xe5;
constexpr uint8_t kForgedReport = 0xe6;
constexpr uint8_t kForgedLogLines = 0xe7;

void ignore_sigsys(int) {}
constexpr uint8_t kAllocateUntilFailure = 0xf3;
constexpr size_t kChunk = 1024 * 1024;
constexpr size_t kMaxChunks = 1024;  // a device with no bound must not take the host down

void allocate_until_failure() {
    size_t chunks = 0;
    for (; chunks < kMaxChunks; ++chunks) {
        // malloc, not new: a failed new goes straight to the out-of-memory handler, and
        // the test wants to know how far the device got first. Never freed.
        void* chunk = std::malloc(kChunk);
        if (!chunk) break;
        std::memset(chunk, 0xa5, kChunk);  // resident, so a memory cgroup sees it
    }
    char line[96];
    const int n = std::snprintf(line, sizeof line, "test hook: allocated %zu MiB%s\n", chunks,
                                chunks == kMaxChunks ? " without a failure" : " before an allocation failed");
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line, static_cast<size_t>(n));
    if (chunks < kMaxChunks) {
        if (std::new_handler out_of_memory = std::get_new_handler()) out_of_memory();
        std::abort();
    }
}
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
    } else if (value == kOwnSigsysHandler) {
        // A compromised device tries to survive its violation: SIGSYS is caught and
        // ignored, so a trapping filter would just make the syscall fail.
        struct sigaction sa {};
        sa.sa_handler = ignore_sigsys;
        sigaction(SIGSYS, &sa, nullptr);
        [[maybe_unused]] int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    } else if (value == kForgedReport) {
        // ... or blames another syscall: a report in the old SIGSYS reporter's format
        // (ptrace, 101) on every channel it has, then the real violation, getppid.
        static const char forged[] = "seccomp nr=101 args=0x0,0x0,0x0,0x0,0x0,0x0\n";
        for (int fd : {2, 5}) [[maybe_unused]] auto n = ::write(fd, forged, sizeof forged - 1);
        [[maybe_unused]] pid_t parent = getppid();
    } else if (value == kForgedLogLines) {
        // Lines that would pass for brig's own, a terminal escape, and a flood.
        static const char forged[] =
            "\n[12:00:00.000] info [board] guest powered off via acpi\n\x1b[2J\x1b[31mbrig: SHUTDOWN: forged\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, forged, sizeof forged - 1);
        static const char flood[] = "flood line\n";
        for (int i = 0; i < 1000; ++i) n = ::write(STDERR_FILENO, flood, sizeof flood - 1);
    } else if (value == kAllocateUntilFailure) {
        allocate_until_failure();
    } else {
        request_control_hook(value);
    }
}

void on_rng_request(uint64_t bytes) {
    constexpr uint64_t kSlowRngRequest = 4093;  // tests/guest/mode_guest_errors.c
    if (bytes == kSlowRngRequest) std::this_thread::sleep_for(std::chrono::milliseconds(2500));
}

}  // namespace brig::devices::test_hooks
