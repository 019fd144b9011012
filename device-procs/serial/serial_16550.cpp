#include "device-procs/serial/serial_16550.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace brig::devices {
namespace {

// Register offsets from the base port. DLAB (LCR bit 7) turns 0 and 1 into the divisor.
enum Register : uint64_t {
    kData = 0,             // RBR on read, THR on write, DLL with DLAB
    kInterruptEnable = 1,  // IER, DLM with DLAB
    kInterruptIdent = 2,   // IIR on read, FCR on write
    kLineControl = 3,
    kModemControl = 4,
    kLineStatus = 5,
    kModemStatus = 6,
    kScratch = 7,
};

constexpr uint8_t kIerReceivedData = 0x01;
constexpr uint8_t kIerThrEmpty = 0x02;
constexpr uint8_t kIerMask = 0x0f;

constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirReceivedData = 0x04;
constexpr uint8_t kIirFifoEnabled = 0xc0;

constexpr uint8_t kFcrEnableFifo = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1f;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrIdle = 0x40;

constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;

}  // namespace

Serial16550::Writer Serial16550::writer_for(std::shared_ptr<BufferedOutput> output) {
    if (!output) return {};
    return [output = std::move(output)](std::span<const uint8_t> bytes) { output->write(bytes); };
}

Serial16550::Serial16550(std::string name, std::shared_ptr<InterruptLine> irq, Writer writer)
    : name_(std::move(name)), irq_(std::move(irq)), writer_(std::move(writer)) {}

void Serial16550::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    const bool was_pending = interrupt_pending();
    // Wider accesses are not meaningful on a byte-wide UART; the first byte carries the register.
    for (auto& b : data) b = 0;
    if (!data.empty()) data[0] = read_register(offset);
    update_interrupt(was_pending);
}

void Serial16550::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty()) return;
    std::lock_guard lock(mutex_);
    const bool was_pending = interrupt_pending();
    write_register(offset, data[0]);
    update_interrupt(was_pending);
}

void Serial16550::reset() {
    std::lock_guard lock(mutex_);
    rx_.clear();
    ier_ = lcr_ = mcr_ = scr_ = fcr_ = 0;
    divisor_low_ = 0x0c;
    divisor_high_ = 0;
    thr_empty_interrupt_ = false;
    new_event_ = false;
}

size_t Serial16550::queue_input(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    if (loopback()) return bytes.size();  // a UART in loopback ignores its wire
    const bool was_pending = interrupt_pending();
    const size_t room = kInputCapacity - rx_.size();
    const size_t n = std::min(room, bytes.size());
    rx_.insert(rx_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    update_interrupt(was_pending);
    return n;
}

uint8_t Serial16550::line_status() {
    std::lock_guard lock(mutex_);
    return read_register(kLineStatus);
}

bool Serial16550::loopback() const { return (mcr_ & kMcrLoop) != 0; }

uint8_t Serial16550::read_register(uint64_t offset) {
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (offset) {
        case kData:
            if (dlab) return divisor_low_;
            if (rx_.empty()) return 0;
            {
                const uint8_t byte = rx_.front();
                rx_.pop_front();
                return byte;
            }
        case kInterruptEnable:
            return dlab ? divisor_high_ : ier_;
        case kInterruptIdent: {
            const uint8_t iir = interrupt_identification();
            // Reading IIR acknowledges a THR-empty interrupt (16550 datasheet).
            if ((iir & 0x0f) == kIirThrEmpty) thr_empty_interrupt_ = false;
            return static_cast<uint8_t>(iir | ((fcr_ & kFcrEnableFifo) ? kIirFifoEnabled : 0));
        }
        case kLineControl:
            return lcr_;
        case kModemControl:
            return mcr_;
        case kLineStatus:
            // Transmission is instantaneous: the holding register is always empty.
            return static_cast<uint8_t>(kLsrThrEmpty | kLsrIdle | (rx_.empty() ? 0 : kLsrDataReady));
        case kModemStatus:
            if (loopback()) {
                // Linux's 8250 probe checks that the modem lines follow MCR in loopback.
                uint8_t msr = 0;
                if (mcr_ & kMcrRts) msr |= kMsrCts;
                if (mcr_ & kMcrDtr) msr |= kMsrDsr;
                if (mcr_ & kMcrOut1) msr |= kMsrRi;
                if (mcr_ & kMcrOut2) msr |= kMsrDcd;
                return msr;
            }
            return kMsrDcd | kMsrDsr | kMsrCts;
        case kScratch:
            return scr_;
        default:
            return 0xff;
    }
}

void Serial16550::write_register(uint64_t offset, uint8_t value) {
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (offset) {
        case kData:
            if (dlab) {
                divisor_low_ = value;
            } else {
                transmit(value);
            }
            break;
        case kInterruptEnable:
            if (dlab) {
                divisor_high_ = value;
            } else {
                // Enabling THR-empty while the holding register is empty raises it at once.
                if ((value & kIerThrEmpty) && !(ier_ & kIerThrEmpty)) {
                    thr_empty_interrupt_ = true;
                    new_event_ = true;
                }
                ier_ = value & kIerMask;
            }
            break;
        case kInterruptIdent:
            fcr_ = value;
            if (value & kFcrClearRx) rx_.clear();
            break;
        case kLineControl:
            lcr_ = value;
            break;
        case kModemControl:
            mcr_ = value & kMcrMask;
            break;
        case kScratch:
            scr_ = value;
            break;
        default:  // LSR and MSR are read-only
            break;
    }
}

void Serial16550::transmit(uint8_t byte) {
    if (loopback()) {
        if (rx_.size() < kInputCapacity) rx_.push_back(byte);
    } else if (writer_) {
        writer_(std::span(&byte, 1));
    }
    thr_empty_interrupt_ = true;
    new_event_ = true;
}

uint8_t Serial16550::interrupt_identification() const {
    if ((ier_ & kIerReceivedData) && !rx_.empty()) return kIirReceivedData;
    if ((ier_ & kIerThrEmpty) && thr_empty_interrupt_) return kIirThrEmpty;
    return kIirNoInterrupt;
}

bool Serial16550::interrupt_pending() const { return interrupt_identification() != kIirNoInterrupt; }

void Serial16550::update_interrupt(bool was_pending) {
    // The line is edge-triggered (an irqfd once jailed): raise it when a condition
    // appears, and again for each new transmit-empty event even if one was pending,
    // because the guest driver may already be past its IIR read for the previous one.
    const bool fresh = std::exchange(new_event_, false);
    if (irq_ && interrupt_pending() && (!was_pending || fresh)) irq_->trigger();
}

}  // namespace brig::devices
