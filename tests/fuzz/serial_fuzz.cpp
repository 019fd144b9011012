// The 16550 UART as the guest drives it: any register read or write of any size,
// host input, machine resets. Checks that the line status a proxy serves from its
// shadow is what a read of LSR returns (serial_16550.h: reading LSR has no effect).
#include <memory>
#include <span>

#include "device-procs/serial/serial_16550.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/hostile_driver.h"

using namespace brig;
using namespace brig::fuzz;

BRIG_FUZZ_TARGET(serial) {
    FuzzInput in(data, size);
    uint64_t transmitted = 0;
    devices::Serial16550 uart("serial-fuzz", std::make_shared<NullInterrupt>(),
                              [&](std::span<const uint8_t> bytes) { transmitted += bytes.size(); });
    for (unsigned steps = 0; !in.empty() && steps < 1024; ++steps) {
        uint8_t buf[8] = {};
        const uint64_t offset = in.pick(10);  // 8 and 9 are past the 8 registers
        const size_t len = 1 + in.pick(8);
        switch (in.pick(5)) {
            case 0:
                for (size_t i = 0; i < len; ++i) buf[i] = in.take<uint8_t>();
                uart.write(offset, std::span<const uint8_t>(buf, len));
                break;
            case 1:
                uart.read(offset, std::span<uint8_t>(buf, len));
                break;
            case 2: {
                auto b = in.bytes(devices::Serial16550::kInputCapacity + 16);
                if (uart.queue_input(b) > b.size()) fail("queue_input accepted more than it was given");
                break;
            }
            case 3:
                uart.reset();
                break;
            default: {
                const uint8_t shadow = uart.line_status();
                uint8_t lsr = 0;
                uart.read(devices::Serial16550::kLineStatusOffset, std::span<uint8_t>(&lsr, 1));
                if (lsr != shadow) fail("the shadowed line status differs from a read of LSR");
                break;
            }
        }
    }
    return 0;
}
