// Watches a UART's register writes on their way to the device and reports the
// guest's first transmitted byte once: the boot watchdog (--boot-timeout) takes it as
// the sign of life. It only observes; every access passes through unchanged.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "ipc/bus_device.h"

namespace brig {

class ConsoleActivityWatch final : public BusDevice {
public:
    ConsoleActivityWatch(std::shared_ptr<BusDevice> uart, std::function<void()> on_first_output,
                         std::function<void(uint8_t)> on_transmit = {})
        : uart_(std::move(uart)), on_first_output_(std::move(on_first_output)), on_transmit_(std::move(on_transmit)) {}

    std::string_view name() const override { return uart_->name(); }
    void read(uint64_t offset, std::span<uint8_t> data) override { uart_->read(offset, data); }
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    static constexpr uint64_t kTransmitOffset = 0;
    static constexpr uint64_t kLineControlOffset = 3;
    static constexpr uint8_t kDivisorLatch = 0x80;

    std::shared_ptr<BusDevice> uart_;
    std::function<void()> on_first_output_;
    std::function<void(uint8_t)> on_transmit_;
    std::atomic<bool> divisor_latch_{false};
    std::atomic<bool> seen_{false};
};

}  // namespace brig
