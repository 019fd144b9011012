#include "common/sigsys_reporter.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace brig::devices {
namespace {

int g_report_fd = -1;

// Async-signal-safe formatting: no allocation, no locale.
char* append(char* out, const char* end, const char* text) {
    while (*text && out < end) *out++ = *text++;
    return out;
}
char* append_hex(char* out, const char* end, uint64_t value) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value & 0xf];
        value >>= 4;
    } while (value);
    out = append(out, end, "0x");
    while (n > 0 && out < end) *out++ = digits[--n];
    return out;
}
char* append_dec(char* out, const char* end, uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    while (n > 0 && out < end) *out++ = digits[--n];
    return out;
}

void on_sigsys(int, siginfo_t* info, void* context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    const greg_t* r = uc->uc_mcontext.gregs;
    const uint64_t args[6] = {static_cast<uint64_t>(r[REG_RDI]), static_cast<uint64_t>(r[REG_RSI]),
                              static_cast<uint64_t>(r[REG_RDX]), static_cast<uint64_t>(r[REG_R10]),
                              static_cast<uint64_t>(r[REG_R8]),  static_cast<uint64_t>(r[REG_R9])};
    // One line: "seccomp nr=257 args=0x..,0x..,...\n" — the VMM names the syscall.
    char line[256];
    char* out = line;
    const char* end = line + sizeof line - 1;
    out = append(out, end, "seccomp nr=");
    out = append_dec(out, end, static_cast<uint64_t>(info->si_syscall));
    out = append(out, end, " args=");
    for (int i = 0; i < 6; ++i) {
        if (i) out = append(out, end, ",");
        out = append_hex(out, end, args[i]);
    }
    *out++ = '\n';
    // sendmsg, not write: the report fd is a socket, and sendmsg is in every device
    // policy, learned ones included (the listener hand-over of learn mode uses it), so
    // the report itself can never be what the policy refuses.
    if (g_report_fd >= 0) {
        iovec iov{line, static_cast<size_t>(out - line)};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        [[maybe_unused]] auto n = ::sendmsg(g_report_fd, &msg, MSG_NOSIGNAL);
    }
    // Trap again with SIGSYS blocked: the kernel resets it to SIG_DFL and kills us.
    syscall(info->si_syscall, args[0], args[1], args[2], args[3], args[4], args[5]);
    _exit(128 + SIGSYS);  // not reached while the filter is loaded
}

}  // namespace

void install_sigsys_reporter(int report_fd) {
    g_report_fd = report_fd;
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, nullptr) != 0) throw std::runtime_error(std::string("sigaction(SIGSYS): ") + std::strerror(errno));
}

}  // namespace brig::devices
