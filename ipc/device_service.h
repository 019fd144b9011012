// Device side of the control path: serves the Device interface of device.capnp on
// the process's control socket, on the calling thread, until shutdown() has been
// answered or the VMM hangs up.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "ipc/device_contract.h"

namespace brig::ipc {

// Every command but activate has a default, so that a new command touches only the
// schema, the two ends in ipc/ and the devices that care.
class DeviceService {
public:
    virtual ~DeviceService() = default;
    // `resources` maps each name to an fd now owned by the device.
    virtual void activate(std::map<std::string, base::UniqueFd> resources) = 0;
    // The settings of the same activation, just before activate(); most kinds have none.
    virtual void configure(const Settings& /*settings*/) {}
    virtual void pause() {}
    virtual void resume() {}
    virtual void shutdown() {}  // flush; the reply goes out after it returns
    // A reboot in place (device.capnp reset): flush, then the power-on state. No
    // default: a kind (or a wrapper) that forgot it would carry the last boot's state
    // into the next one without a word.
    virtual void reset() = 0;
    // The slow-path register accesses (tests, benchmarks): a device without registers
    // there reads 0 and ignores writes.
    virtual uint64_t read(uint64_t /*offset*/, uint8_t /*size*/) { return 0; }
    virtual void write(uint64_t /*offset*/, uint8_t /*size*/, uint64_t /*data*/) {}
    // How the device tells brig about an error the guest caused (a hostile queue): a
    // function callable from any of its threads, or none (in brig's own process, and
    // after the control connection ends), when the device logs instead.
    virtual void set_error_reporter(std::function<void(const std::string&)> /*report*/) {}

    // virtio-vsock's host side, which brig brokers (device.capnp hostConnection): a
    // connected host socket for (guest port, host port), or none when brig could not
    // connect. A kind that takes none just lets the fd close.
    virtual void host_connection(uint32_t /*guest_port*/, uint32_t /*host_port*/, base::UniqueFd /*fd*/) {}
    // How the device asks brig to connect a host port for the guest, callable from any
    // thread: false when the request cannot go out now (over
    // device_contract::kHostConnectsPerSecond, or no brig to ask), and the device
    // refuses the guest at once. Set before the loop starts, emptied when it ends.
    using HostConnector = std::function<bool(uint32_t guest_port, uint32_t host_port)>;
    virtual void set_host_connector(HostConnector /*connect*/) {}
};

// Runs the RPC loop. Extra fds to watch (e.g. console input) are given as
// {fd, callback} and their callbacks run on the same thread when readable.
struct WatchedFd {
    int fd;
    std::function<void()> on_readable;
};
// `set_error_reporter` is called before the loop starts with a function the device may
// call from any thread to send the VMM's Supervisor a one-line error report, and with
// an empty one when the loop ends.
void serve_device(base::UniqueFd control_socket, DeviceService& service, std::vector<WatchedFd> watched,
                  std::function<void(std::function<void(const std::string&)>)> set_error_reporter = {});

}  // namespace brig::ipc
