// Compiled only into brig-device-test: a device that a guest has taken over, breaking
// its control connection to brig in the ways a real attacker would. Each hook writes
// raw frames to the control socket from the control thread, bypassing the device's
// own Cap'n Proto code, and never reads what brig answers.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <cerrno>
#include <cstdint>
#include <spdlog/spdlog.h>

#include "base/eventfd.h"
#include "device-procs/common/test_hooks.h"
#include "ipc/device.capnp.h"

namespace brig::devices::test_hooks {
namespace {

constexpr uint8_t kMalformedFrame = 0xe0;
constexpr uint8_t kBogusCall = 0xe1;
constexpr uint8_t kReportFlood = 0xe2;
constexpr uint8_t kBootstrapFlood = 0xe3;
constexpr unsigned kFloodMessages = 300000;
// Question ids far above the few the device's own RPC system uses.
constexpr uint32_t kFirstQuestion = 1u << 20;

std::atomic<uint8_t> g_requested{0};
int g_wake_fd = -1;

// Blocking write of all of `bytes` to the (non-blocking) control socket.
void write_all(int fd, const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n > 0) {
            p += n;
            size -= static_cast<size_t>(n);
        } else if (n < 0 && errno == EAGAIN) {
            pollfd pfd{fd, POLLOUT, 0};
            poll(&pfd, 1, -1);
        } else if (n < 0 && errno != EINTR) {
            return;  // brig hung up
        }
    }
}

void send(int fd, capnp::MessageBuilder& message) {
    const auto words = capnp::messageToFlatArray(message);
    const auto bytes = words.asBytes();
    write_all(fd, bytes.begin(), bytes.size());
}

void bootstrap(int fd, uint32_t question) {
    capnp::MallocMessageBuilder message;
    message.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(question);
    send(fd, message);
}

// A reportError call on the answer to bootstrap `target_question` (brig's Supervisor).
void report(int fd, uint32_t question, uint32_t target_question) {
    capnp::MallocMessageBuilder message;
    auto call = message.initRoot<capnp::rpc::Message>().initCall();
    call.setQuestionId(question);
    call.initTarget().initPromisedAnswer().setQuestionId(target_question);
    call.setInterfaceId(capnp::typeId<ipc::schema::Supervisor>());
    call.setMethodId(0);
    call.initParams().getContent().initAs<ipc::schema::Supervisor::ReportErrorParams>().setMessage("flood");
    send(fd, message);
}

void run_hook(int fd, uint8_t hook) {
    switch (hook) {
        case kMalformedFrame: {
            // One segment of 2^31 words: 16 GiB that will never come.
            const uint32_t header[2] = {0, 0x80000000u};
            write_all(fd, header, sizeof header);
            break;
        }
        case kBogusCall: {
            capnp::MallocMessageBuilder message;
            auto call = message.initRoot<capnp::rpc::Message>().initCall();
            call.setQuestionId(kFirstQuestion);
            call.initTarget().setImportedCap(0xdead);
            call.setInterfaceId(capnp::typeId<ipc::schema::Supervisor>());
            call.setMethodId(0);
            call.initParams();
            send(fd, message);
            break;
        }
        case kReportFlood:
            bootstrap(fd, kFirstQuestion);
            for (uint32_t i = 1; i <= kFloodMessages; ++i) report(fd, kFirstQuestion + i, kFirstQuestion);
            break;
        case kBootstrapFlood:
            for (uint32_t i = 0; i < kFloodMessages; ++i) bootstrap(fd, kFirstQuestion + i);
            break;
        default:
            return;
    }
    // Stay on the control thread, never reading brig's answers, until brig acts.
    for (;;) poll(nullptr, 0, -1);  // (pause is not in the device policy)
}

}  // namespace

std::vector<ipc::WatchedFd> control_hooks(int control_fd) {
    g_wake_fd = base::make_eventfd("control test hooks").release();  // lives as long as the process
    return {{g_wake_fd, [control_fd] {
                 base::drain_eventfd(g_wake_fd);
                 run_hook(control_fd, g_requested.exchange(0));
             }}};
}

bool request_control_hook(uint8_t value) {
    if (value < kMalformedFrame || value > kBootstrapFlood || g_wake_fd < 0) return false;
    g_requested = value;
    return base::signal_eventfd(g_wake_fd);
}

}  // namespace brig::devices::test_hooks
