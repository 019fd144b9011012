#include "device-procs/common/device_logger.h"

#include <atomic>

namespace brig::devices {
namespace {
std::atomic<bool> named_by_host{false};
}  // namespace

DeviceLogger::DeviceLogger(const std::string& device)
    : prefix_(named_by_host.load() ? std::string() : "[" + device + "] device: ") {}

void DeviceLogger::set_named_by_host() { named_by_host = true; }

}  // namespace brig::devices
