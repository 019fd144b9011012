// How each device kind is built: one factory per kind of ipc/device_kind.h. brig-device
// builds its one device from here, and brig builds the same objects in its own
// process with --disable-sandbox, so the two modes run the same device code.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "ipc/device_kind.h"
#include "ipc/device_service.h"

namespace brig::devices {

struct DeviceFactory {
    const ipc::DeviceKind* kind;
    std::unique_ptr<ipc::DeviceService> (*create)(const std::string& name);
};

std::span<const DeviceFactory> device_factories();
// Throws std::out_of_range for a kind without a factory.
std::unique_ptr<ipc::DeviceService> create_device_service(const ipc::DeviceKind& kind, const std::string& name);

}  // namespace brig::devices
