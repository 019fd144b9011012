// Target 4, the other direction (control_vmm_fuzz.cpp is brig's side). control_device:
// a hostile brig. The input's first byte picks a device kind; the rest is what brig
// writes on that device's control socket before it hangs up. The kind's real service
// (device-procs/device_registry.h) serves it (ipc/device_service.h) on a thread under
// that kind's own filter (policies/KIND_device.policy). The device may answer anything, but must neither crash nor touch a syscall its
// filter refuses.
#include <poll.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "tests/fuzz/control_socket.h"
#include "tests/fuzz/filtered_thread.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"
#include "device-procs/device_registry.h"
#include "ipc/device_kind.h"
#include "ipc/device_service.h"

using namespace brig;
using namespace brig::fuzz;

namespace {

// One thread per kind, each under that kind's filter, started when first needed.
FilteredThread& thread_for(const ipc::DeviceKind& kind) {
    static std::map<std::string_view, std::unique_ptr<FilteredThread>> threads;
    auto& thread = threads[kind.name];
    if (!thread) thread = std::make_unique<FilteredThread>(thread_filter(kind.name));
    return *thread;
}

}  // namespace

BRIG_FUZZ_TARGET(control_device) {
    const RefusalRecorder recorder;
    FuzzInput in(data, size);
    const auto kinds = std::span(ipc::kinds::kAll);
    const ipc::DeviceKind& kind = *kinds[in.pick(kinds.size())];
    auto sockets = stream_pair();
    const int brig_end = sockets.first.get();
    send_and_hang_up(brig_end, in.rest());
    auto service = devices::create_device_service(kind, std::string(kind.name));
    // While the device serves, brig's end is drained here: its replies must never fill
    // the socket and hold up its loop, which ends when it reads brig's end-of-file.
    std::atomic<bool> served{false};
    const std::function<void()> serve = [&] {
        try {
            ipc::serve_device(std::move(sockets.second), *service, {});
        } catch (const std::exception&) {
            // serve_device may end by throwing once the connection breaks; brig-device
            // then exits.
        }
        served = true;
    };
    FilteredThread& device_thread = thread_for(kind);
    device_thread.start(serve);
    char sink[4096];
    while (!served) {
        pollfd p{brig_end, POLLIN, 0};
        if (::poll(&p, 1, 5) > 0 && ::read(brig_end, sink, sizeof sink) <= 0) break;
    }
    device_thread.wait();
    fail_on_refused_syscall((std::string(kind.name) + " device").c_str());
    return 0;
}
