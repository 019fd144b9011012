// An interrupt line that counts what it raises and hands each new total to
// `publish`: a device's mailbox shadow ipc::device_contract::kInterruptsShadow, which
// `brig status` shows, and the statistics the device logs at shutdown.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "ipc/bus_device.h"

namespace brig::devices {

class CountingInterrupt final : public InterruptLine {
public:
    CountingInterrupt(std::shared_ptr<InterruptLine> line, std::function<void(uint64_t)> publish)
        : line_(std::move(line)), publish_(std::move(publish)) {}
    void trigger() override {
        const uint64_t total = count_.fetch_add(1, std::memory_order_relaxed) + 1;
        line_->trigger();
        if (publish_) publish_(total);
    }
    uint64_t count() const { return count_.load(std::memory_order_relaxed); }

private:
    std::shared_ptr<InterruptLine> line_;
    std::function<void(uint64_t)> publish_;
    std::atomic<uint64_t> count_{0};
};

}  // namespace brig::devices
