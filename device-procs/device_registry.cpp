#include "device-procs/device_registry.h"

#include <stdexcept>

#include "device-procs/serial/serial_service.h"
#include "device-procs/virtio/virtio_blk.h"
#include "device-procs/virtio/virtio_console.h"
#include "device-procs/virtio/virtio_net.h"
#include "device-procs/virtio/virtio_rng.h"
#include "device-procs/virtio/virtio_service.h"
#include "device-procs/virtio/virtio_vsock.h"

namespace brig::devices {
namespace {

// A virtio device hosted by the common virtio service (mailbox, queues, event thread).
// A kind whose create() takes settings gets them; the others never see any.
template <typename Device>
std::unique_ptr<ipc::DeviceService> virtio(const std::string& name) {
    return std::make_unique<VirtioService>(name, [name](Resources& r, const Settings& settings) {
        if constexpr (requires { Device::create(name, r, settings); })
            return Device::create(name, r, settings);
        else
            return Device::create(name, r);
    });
}

std::unique_ptr<ipc::DeviceService> serial(const std::string& name) { return std::make_unique<SerialService>(name); }

// One line per kind.
constexpr DeviceFactory kFactories[] = {
    {&ipc::kinds::kSerial, serial},
    {&ipc::kinds::kVirtioBlk, virtio<VirtioBlk>},
    {&ipc::kinds::kVirtioRng, virtio<VirtioRng>},
    {&ipc::kinds::kVirtioConsole, virtio<VirtioConsole>},
    {&ipc::kinds::kVirtioNet, virtio<VirtioNet>},
    {&ipc::kinds::kVirtioVsock, virtio<VirtioVsock>},
};

}  // namespace

std::span<const DeviceFactory> device_factories() { return kFactories; }

std::unique_ptr<ipc::DeviceService> create_device_service(const ipc::DeviceKind& kind, const std::string& name) {
    for (const auto& factory : kFactories)
        if (factory.kind == &kind) return factory.create(name);
    throw std::out_of_range("no factory for device kind '" + std::string(kind.name) + "'");
}

}  // namespace brig::devices
