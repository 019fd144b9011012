// VMM side of the control path: one thread ("brig-ipc") runs the Cap'n Proto event loop
// for every device connection; other threads call into it and block for the reply
// with a deadline. Replies come from an untrusted process: a malformed one, a broken
// connection or a missed deadline is a DeviceControlError naming the device.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ipc/control_guard.h"
#include "ipc/device_contract.h"
#include "base/unique_fd.h"

namespace brig::ipc {

class DeviceControlError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An fd handed to the device at activation, under a name the device looks up.
struct NamedFd {
    std::string name;
    int fd;  // borrowed: the caller keeps ownership; it is duplicated into the message
};

class DeviceControl {
public:
    virtual ~DeviceControl() = default;
    virtual void activate(const std::vector<NamedFd>& resources, const Settings& settings,
                          std::chrono::milliseconds timeout) = 0;
    void activate(const std::vector<NamedFd>& resources, std::chrono::milliseconds timeout) {
        activate(resources, {}, timeout);
    }
    virtual void pause(std::chrono::milliseconds timeout) = 0;
    virtual void resume(std::chrono::milliseconds timeout) = 0;
    virtual void shutdown(std::chrono::milliseconds timeout) = 0;
    virtual void reset(std::chrono::milliseconds timeout) = 0;
    virtual uint64_t read(uint64_t offset, uint8_t size, std::chrono::milliseconds timeout) = 0;
    virtual void write(uint64_t offset, uint8_t size, uint64_t data, std::chrono::milliseconds timeout) = 0;
    // virtio-vsock: hands the device a connected host socket (`fd` borrowed, duplicated
    // into the message), or -1: nothing listens (device.capnp hostConnection).
    virtual void host_connection(uint32_t guest_port, uint32_t host_port, int fd,
                                 std::chrono::milliseconds timeout) = 0;
};

class IpcThread {
public:
    // Called on the IPC thread with a device's error report (already sanitised to one
    // printable line of bounded length).
    using ErrorReportHandler = std::function<void(const std::string& device, const std::string& message)>;
    // Called on the IPC thread, at most once per connection, when the device breaks the
    // control protocol or goes over its budget (control_guard.h). From then on nothing
    // it sends is read; the handler is expected to kill it.
    using FaultHandler = std::function<void(const std::string& device, const ControlFault& fault)>;
    // Called on the IPC thread when the device asks for a host connection (virtio-vsock's
    // guest connecting to host port `host_port`), within the control budget; the
    // answer goes back through DeviceControl::host_connection. Must not block.
    using HostConnectHandler = std::function<void(const std::string& device, uint32_t guest_port, uint32_t host_port)>;

    IpcThread();
    ~IpcThread();  // disconnects everything and joins the thread
    IpcThread(const IpcThread&) = delete;
    IpcThread& operator=(const IpcThread&) = delete;

    // Adopts the VMM end of a device's control socket (a SOCK_STREAM or SOCK_SEQPACKET
    // unix socket). Safe to call from any thread.
    std::shared_ptr<DeviceControl> connect(const std::string& device, base::UniqueFd socket,
                                           ErrorReportHandler on_report, FaultHandler on_fault = {},
                                           HostConnectHandler on_connect_host = {});

    // Runs `fn` on the IPC thread and waits for it (e.g. to install its seccomp filter).
    void run_on_thread(const std::function<void()>& fn);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace brig::ipc
