#include "device-procs/serial/serial_16550.h"

#include <catch2/catch.hpp>
#include <string>

using brig::InterruptLine;
using brig::devices::Serial16550;

namespace {
struct CountingIrq : InterruptLine {
    void trigger() override { ++count; }
    int count = 0;
};

struct Uart {
    std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
    std::string out;
    Serial16550 dev{"serial", irq, [this](std::span<const uint8_t> b) { out.append(b.begin(), b.end()); }};

    uint8_t in(uint64_t reg) {
        uint8_t v = 0;
        dev.read(reg, std::span(&v, 1));
        return v;
    }
    void outb(uint64_t reg, uint8_t v) { dev.write(reg, std::span(&v, 1)); }
};
}  // namespace

TEST_CASE("serial transmits exactly the bytes the guest writes", "[serial]") {
    Uart u;
    for (char c : std::string("hello\n")) u.outb(0, static_cast<uint8_t>(c));
    CHECK(u.out == "hello\n");
    CHECK((u.in(5) & 0x60) == 0x60);  // THR empty and idle
}

TEST_CASE("serial divisor latch hides the data register", "[serial]") {
    Uart u;
    u.outb(3, 0x80);  // DLAB
    u.outb(0, 0x01);
    u.outb(1, 0x00);
    CHECK(u.out.empty());
    CHECK(u.in(0) == 0x01);
    u.outb(3, 0x03);
    u.outb(0, 'x');
    CHECK(u.out == "x");
}

TEST_CASE("serial receive raises data-ready and an interrupt when enabled", "[serial]") {
    Uart u;
    const uint8_t input[] = {'a', 'b'};
    u.outb(1, 0x01);  // IER: received data
    CHECK(u.dev.queue_input(input) == 2);
    CHECK(u.irq->count == 1);
    CHECK((u.in(5) & 0x01) == 1);
    CHECK((u.in(2) & 0x0f) == 0x04);
    CHECK(u.in(0) == 'a');
    CHECK(u.in(0) == 'b');
    CHECK((u.in(5) & 0x01) == 0);
    CHECK((u.in(2) & 0x0f) == 0x01);
}

TEST_CASE("serial THR-empty interrupt fires per transmit and is cleared by reading IIR", "[serial]") {
    Uart u;
    u.outb(1, 0x02);
    CHECK(u.irq->count == 1);
    CHECK((u.in(2) & 0x0f) == 0x02);
    CHECK((u.in(2) & 0x0f) == 0x01);
    u.outb(0, 'z');
    CHECK(u.irq->count == 2);
    u.in(5);  // status reads must not raise spurious edges
    CHECK(u.irq->count == 2);
}

TEST_CASE("serial loopback routes output to input and modem lines to status", "[serial]") {
    Uart u;
    u.outb(4, 0x10 | 0x0a);  // LOOP | RTS | OUT2
    CHECK((u.in(6) & 0xf0) == 0x90);
    u.outb(0, 0x55);
    CHECK(u.out.empty());
    CHECK(u.in(0) == 0x55);
}

TEST_CASE("serial input queue is bounded", "[serial]") {
    Uart u;
    std::vector<uint8_t> big(Serial16550::kInputCapacity + 10, 'q');
    CHECK(u.dev.queue_input(big) == Serial16550::kInputCapacity);
    CHECK(u.dev.queue_input(big) == 0);
}

TEST_CASE("serial reset returns every register to its power-on value and empties the FIFO", "[serial]") {
    Uart u;
    u.outb(3, 0x80);  // DLAB
    u.outb(0, 0x01);  // divisor 1: 115200 baud
    u.outb(3, 0x03);  // 8N1
    u.outb(1, 0x03);  // IER: receive and transmit-empty interrupts
    u.outb(4, 0x0b);  // MCR: DTR, RTS, OUT2
    u.outb(7, 0x5a);  // scratch
    const uint8_t typed[] = {'x', 'y'};
    REQUIRE(u.dev.queue_input(typed) == 2);
    REQUIRE((u.in(5) & 0x01) == 0x01);  // data ready

    u.dev.reset();
    CHECK(u.in(1) == 0);           // IER
    CHECK(u.in(3) == 0);           // LCR
    CHECK(u.in(4) == 0);           // MCR
    CHECK(u.in(7) == 0);           // scratch
    CHECK(u.in(2) == 0x01);        // IIR: no interrupt pending
    CHECK((u.in(5) & 0x01) == 0);  // the FIFO is empty
    u.outb(3, 0x80);
    CHECK(u.in(0) == 0x0c);  // the divisor firmware leaves: 9600 baud
    CHECK(u.in(1) == 0x00);
}
