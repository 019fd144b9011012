// --disable-sandbox: a device built by the same factory brig-device uses
// (device-procs/device_registry.h), activated with the same resources, and put on the
// bus directly. A vCPU's access calls the device's read()/write() on the vCPU thread,
// with no mailbox, no process and no jail in between: the reference point the
// benchmarks measure the jail against.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ipc/bus_device.h"
#include "ipc/device_service.h"

namespace brig {

class InProcessDevice final : public BusDevice {
public:
    InProcessDevice(std::string name, std::unique_ptr<ipc::DeviceService> service)
        : name_(std::move(name)), service_(std::move(service)) {}

    std::string_view name() const override { return name_; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Flushes what the guest wrote, stops the device's threads and destroys it (its
    // fds closed); later accesses read 0 and are dropped.
    void shutdown();
    // brig suspend / resume: the device stops taking requests from its queues, and goes on.
    void pause();
    void resume();
    // A reboot in place: back to the power-on state (device.capnp reset).
    void reset();

    // virtio-vsock's host side (vmm/vsock/), as device.capnp carries it to a jailed one.
    void host_connection(uint32_t guest_port, uint32_t host_port, int fd);

private:
    std::string name_;
    // Serialises the vCPUs, as a device process's one mailbox thread does.
    std::mutex mutex_;
    std::unique_ptr<ipc::DeviceService> service_;
};

}  // namespace brig
