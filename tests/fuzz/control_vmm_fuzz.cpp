// Target 4: the control path (device.capnp over a unix socket), in both directions;
// this is brig's side (control_device_fuzz.cpp is the device's). control_vmm: a hostile device. The input's first byte picks the command brig sends;
// the rest is what the device writes on its control socket before it hangs up. brig's
// IPC thread runs under brig's own IPC filter (policies/brig_ipc.policy), so that a
// syscall an error path needs and the filter lacks is found here, as a crash. A
// command may succeed or fail with a DeviceControlError, never anything else; the
// device's reports reach brig as one printable line.
#include <fcntl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "tests/fuzz/control_socket.h"
#include "tests/fuzz/filtered_thread.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"
#include "ipc/device_control.h"
#include "minijail-wrapper/minijail/policy.h"

using namespace brig;
using namespace brig::fuzz;
using base::UniqueFd;

namespace {

// Device connections made, as brig makes them, before the IPC thread takes its filter
// (brig filters its threads once every device is up): a filter cannot be taken off
// again, so a batch of them comes with a thread of its own, and each input uses one.
struct ConnectionPool {
    static constexpr size_t kSize = 128;
    struct Unused {
        std::shared_ptr<ipc::DeviceControl> control;
        UniqueFd device_end;
    };
    ipc::IpcThread ipc;
    std::vector<Unused> unused;
    bool bad_report = false;  // a report that was not one printable line, since the last input

    ConnectionPool() {
        static const std::vector<sock_filter> filter = thread_filter("ipc");
        for (size_t i = 0; i < kSize; ++i) {
            auto [vmm_end, device_end] = stream_pair();
            auto control = ipc.connect(
                "fuzz-device", std::move(vmm_end),
                [this](const std::string&, const std::string& message) { bad_report |= !one_printable_line(message); },
                [](const std::string&, const ipc::ControlFault&) {}, [](const std::string&, uint32_t, uint32_t) {});
            unused.push_back({std::move(control), std::move(device_end)});
        }
        ipc.run_on_thread([] { minijail::install_filter(filter, /*tsync=*/false); });
    }
};

}  // namespace

BRIG_FUZZ_TARGET(control_vmm) {
    const RefusalRecorder recorder;
    static std::unique_ptr<ConnectionPool> pool;
    if (!pool || pool->unused.empty()) {
        pool.reset();
        pool = std::make_unique<ConnectionPool>();
    }
    auto [control, device_end] = std::move(pool->unused.back());
    pool->unused.pop_back();
    FuzzInput in(data, size);
    const unsigned command = in.pick(8);
    send_and_hang_up(device_end.get(), in.rest());
    pool->bad_report = false;
    try {
        switch (command) {
            case 0: {
                UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
                control->activate({{"irq", null.get()}}, {{"mac", "52:54:00:00:00:01"}}, kCommandTimeout);
                break;
            }
            case 1:
                control->pause(kCommandTimeout);
                break;
            case 2:
                control->resume(kCommandTimeout);
                break;
            case 3:
                control->shutdown(kCommandTimeout);
                break;
            case 4:
                control->reset(kCommandTimeout);
                break;
            case 5:
                control->read(0x10, 4, kCommandTimeout);
                break;
            case 6:
                control->write(0x10, 4, 0x1234, kCommandTimeout);
                break;
            default:
                control->host_connection(1234, 5678, -1, kCommandTimeout);
                break;
        }
    } catch (const ipc::DeviceControlError&) {
        // The one way a hostile device may end a command.
    }
    control.reset();
    // Let the IPC thread finish with this connection before checking what it did.
    pool->ipc.run_on_thread([] {});
    fail_on_refused_syscall("IPC");
    if (pool->bad_report) fail("a device report reached brig as more than one printable line");
    return 0;
}
