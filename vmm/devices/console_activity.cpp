#include "vmm/devices/console_activity.h"

namespace brig {

void ConsoleActivityWatch::write(uint64_t offset, std::span<const uint8_t> data) {
    if (!data.empty()) {
        if (offset == kLineControlOffset) divisor_latch_ = (data[0] & kDivisorLatch) != 0;
        if (offset == kTransmitOffset && !divisor_latch_) {
            if (!seen_.exchange(true)) on_first_output_();
            if (on_transmit_) on_transmit_(data[0]);
        }
    }
    uart_->write(offset, data);
}

}  // namespace brig
