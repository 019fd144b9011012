// A 16550A UART (the PC's COM1). Transmitted bytes go to an injected writer; received
// bytes are queued by whoever owns the host side (a stdin reader thread today, the
// device process's event loop once jailed). Register set: see the 16550D datasheet.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "device-procs/common/buffered_output.h"

#include "ipc/bus_device.h"

namespace brig::devices {

class Serial16550 final : public BusDevice {
public:
    using Writer = std::function<void(std::span<const uint8_t>)>;

    // Bytes received from the host wait here until the guest reads them; beyond this
    // the host side must wait (queue_input accepts less).
    static constexpr size_t kInputCapacity = 4096;

    Serial16550(std::string name, std::shared_ptr<InterruptLine> irq, Writer writer);

    // Transmits through `output`, which never blocks the guest; null is a sink.
    static Writer writer_for(std::shared_ptr<BufferedOutput> output);

    std::string_view name() const override { return name_; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // A machine reset (a reboot in place): every register to its power-on value and
    // the receive FIFO emptied, as the 16550's MR pin does.
    void reset();

    // Queues host input for the guest; returns how many bytes were accepted.
    size_t queue_input(std::span<const uint8_t> bytes);

    // The line status register as a read would return it. Reading LSR has no side
    // effect, so a proxy may serve it from a published copy without a round trip.
    uint8_t line_status();
    static constexpr uint64_t kLineStatusOffset = 5;

private:
    uint8_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint8_t value);
    void transmit(uint8_t byte);
    uint8_t interrupt_identification() const;
    bool interrupt_pending() const;
    void update_interrupt(bool was_pending);
    bool loopback() const;

    const std::string name_;
    const std::shared_ptr<InterruptLine> irq_;
    const Writer writer_;

    std::mutex mutex_;  // vCPU threads and the input side both touch the registers
    std::deque<uint8_t> rx_;
    uint8_t ier_ = 0;
    uint8_t lcr_ = 0;
    uint8_t mcr_ = 0;
    uint8_t scr_ = 0;
    uint8_t fcr_ = 0;
    uint8_t divisor_low_ = 0x0c;  // 9600 baud, what firmware leaves behind
    uint8_t divisor_high_ = 0;
    bool thr_empty_interrupt_ = false;
    bool new_event_ = false;  // set by an access that creates an interrupt condition
};

}  // namespace brig::devices
