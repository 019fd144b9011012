#include "vmm/devices/in_process_device.h"

#include <fcntl.h>

#include <cstring>

#include "base/error.h"

namespace brig {

void InProcessDevice::read(uint64_t offset, std::span<uint8_t> data) {
    uint64_t value;
    {
        std::lock_guard lock(mutex_);
        value = service_ ? service_->read(offset, static_cast<uint8_t>(data.size())) : 0;
    }
    std::memcpy(data.data(), &value, std::min(data.size(), sizeof value));
}

void InProcessDevice::write(uint64_t offset, std::span<const uint8_t> data) {
    uint64_t value = 0;
    std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
    std::lock_guard lock(mutex_);
    if (service_) service_->write(offset, static_cast<uint8_t>(data.size()), value);
}

void InProcessDevice::shutdown() {
    std::lock_guard lock(mutex_);
    if (!service_) return;
    service_->shutdown();
    // Gone, with every fd it held, as a device process is once it exits: a console
    // relay draining its output pipe then sees end-of-file rather than its timeout.
    service_.reset();
}

}  // namespace brig

namespace brig {

void InProcessDevice::host_connection(uint32_t guest_port, uint32_t host_port, int fd) {
    base::UniqueFd copy;
    if (fd >= 0) {
        copy.reset(fcntl(fd, F_DUPFD_CLOEXEC, 0));
        if (!copy) base::throw_errno(name_ + ": host connection: fcntl(F_DUPFD_CLOEXEC)");
    }
    std::lock_guard lock(mutex_);
    if (service_) service_->host_connection(guest_port, host_port, std::move(copy));
}

}  // namespace brig

namespace brig {

void InProcessDevice::pause() {
    std::lock_guard lock(mutex_);
    if (service_) service_->pause();
}

void InProcessDevice::reset() {
    std::lock_guard lock(mutex_);
    if (service_) service_->reset();
}

void InProcessDevice::resume() {
    std::lock_guard lock(mutex_);
    if (service_) service_->resume();
}

}  // namespace brig
