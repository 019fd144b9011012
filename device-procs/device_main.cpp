// brig-device: one emulated device in its own process. brig starts it with fork+exec
// in a new pid namespace, with exactly these fds:
//   3  the control socket (Cap'n Proto, device.capnp)
//   4  the compiled seccomp filter (BPF, read once and closed)
//   5  the report socket: one end of a SOCK_SEQPACKET socketpair, over which the
//      device sends its seccomp listener once (SCM_RIGHTS, common/seccomp_listener.h)
// and argv: brig-device KIND NAME JAIL_UID JAIL_GID [LOG_LEVEL]
// The filter on fd 4 answers a refused syscall with SECCOMP_RET_USER_NOTIF. It is
// installed with NEW_LISTENER and the listener goes to brig, which reads the refused
// syscall from the kernel and kills the device (brig run --seccomp=kill), or logs or
// records it and lets it run (--seccomp=log|learn). Nothing the device does itself
// (a SIGSYS handler, a forged report) can hide or change what brig reports.
// It jails itself before it reads a single byte from the VMM or the guest.
// Exit status: 0 after a shutdown, 1 on an error it reports on stderr, 3
// (kDeviceExitOutOfMemory) when an allocation fails: its memory is bounded
// (RLIMIT_DATA, and a cgroup with --cgroup-parent) and it cannot go on without.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <cstring>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <string>
#include <string_view>
#include <vector>

#include "device-procs/common/seccomp_listener.h"
#include "device-procs/common/test_hooks.h"
#include "ipc/device_contract.h"
#include "ipc/device_service.h"
#include "minijail-wrapper/minijail/jail.h"
#include "ipc/sandbox/profiles.h"
#include "minijail-wrapper/minijail/policy.h"
#include "base/error.h"
#include "base/malloc_arena.h"
#include "device-procs/common/device_logger.h"
#include "device-procs/device_registry.h"
#include "ipc/device_kind.h"
#include "base/unique_fd.h"

namespace {

namespace contract = brig::ipc::device_contract;
using contract::kControlFd;
using contract::kFilterFd;
using contract::kReportFd;
using Arguments = contract::Arguments;
constexpr size_t kMaxFilterBytes = 64 * 1024;

std::vector<sock_filter> read_filter(int fd) {
    std::vector<uint8_t> bytes;
    uint8_t buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) base::throw_errno("read seccomp filter");
        if (n == 0) break;
        bytes.insert(bytes.end(), buf, buf + n);
        if (bytes.size() > kMaxFilterBytes) throw std::runtime_error("seccomp filter too large");
    }
    if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0) throw std::runtime_error("malformed seccomp filter");
    std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
    std::memcpy(program.data(), bytes.data(), bytes.size());
    return program;
}

// The device as brig-device hosts it: activation's resources are checked against the
// kind's descriptor and placed at their jail fd slots before the device sees them.
class JailedDevice final : public brig::ipc::DeviceService {
public:
    JailedDevice(const brig::ipc::DeviceKind& kind, std::unique_ptr<brig::ipc::DeviceService> device)
        : kind_(kind), device_(std::move(device)) {}
    void activate(std::map<std::string, base::UniqueFd> resources) override {
        contract::place_activation_resources(kind_, resources);
        device_->activate(std::move(resources));
    }
    void configure(const brig::ipc::Settings& settings) override { device_->configure(settings); }
    void pause() override { device_->pause(); }
    void resume() override { device_->resume(); }
    void reset() override { device_->reset(); }
    void shutdown() override { device_->shutdown(); }
    uint64_t read(uint64_t offset, uint8_t size) override { return device_->read(offset, size); }
    void write(uint64_t offset, uint8_t size, uint64_t data) override { device_->write(offset, size, data); }
    void set_error_reporter(std::function<void(const std::string&)> report) override {
        device_->set_error_reporter(std::move(report));
    }
    void host_connection(uint32_t guest_port, uint32_t host_port, base::UniqueFd fd) override {
        device_->host_connection(guest_port, host_port, std::move(fd));
    }
    void set_host_connector(HostConnector connect) override { device_->set_host_connector(std::move(connect)); }

private:
    const brig::ipc::DeviceKind& kind_;
    std::unique_ptr<brig::ipc::DeviceService> device_;
};

// operator new calls this instead of throwing: a device out of memory stops at once,
// with a status brig recognises, rather than unwinding through the event loop.
[[noreturn]] void out_of_memory() {
    static constexpr char kMessage[] = "brig-device: out of memory: an allocation failed (RLIMIT_DATA)\n";
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    _exit(brig::sandbox::kDeviceExitOutOfMemory);
}

void setup_logging(spdlog::level::level_enum level) {
    auto logger = spdlog::stderr_logger_mt("brig-device");
    // No time, name or pid: stderr is a pipe to brig, which adds the time and the
    // device's name and real pid (inside its pid namespace it is always pid 1).
    logger->set_pattern("%l %v");
    logger->set_level(level);
    spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
    base::use_main_malloc_arena_only();
    std::string name = argc > 2 ? argv[2] : "device";
    std::set_new_handler(out_of_memory);
    try {
        const Arguments args = contract::parse_argv(argc, argv);
        tzset();  // log timestamps read /etc/localtime once, now, not under the filter
        setup_logging(spdlog::level::from_str(args.log_level));
        brig::devices::DeviceLogger::set_named_by_host();
        base::UniqueFd control(kControlFd);
        std::vector<sock_filter> filter;
        {
            base::UniqueFd filter_fd(kFilterFd);
            filter = read_filter(filter_fd.get());
        }
        const brig::ipc::DeviceKind& kind = brig::ipc::device_kind(args.kind);
        minijail::enter_jail(
            brig::sandbox::jail_spec_for(brig::sandbox::device_context(args.kind), args.uid, args.gid));
        JailedDevice device(kind, brig::devices::create_device_service(kind, args.name));
        // Last step before serving: from here on every thread of this process runs
        // under the device's policy (TSYNC). From the install until brig holds the
        // listener, any syscall but the sendmsg below would wait for an answer nobody
        // can give, so nothing runs in between (no logging, no allocation).
        const int listener = minijail::install_filter_with_listener(filter, /*tsync=*/true);
        if (!brig::devices::send_seccomp_listener(kReportFd, listener)) {
            // brig gives up on us and kills us when no listener arrives.
            for (;;) pause();
        }
        // Our copy must go: a device holding its own listener could answer its own
        // notifications and bypass brig. (In learn mode this close is the first
        // notified call.) The report socket has served its one purpose.
        ::close(listener);
        ::close(kReportFd);
        brig::ipc::serve_device(std::move(control), device, brig::devices::test_hooks::control_hooks(kControlFd),
                                [&device](auto report) { device.set_error_reporter(std::move(report)); });
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "brig-device %s: %s\n", name.c_str(), e.what());
        return 1;
    }
}
