#include "device-procs/serial/serial_service.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "device-procs/common/counting_interrupt.h"
#include "device-procs/common/resources.h"
#include "ipc/device_contract.h"
#include "ipc/device_kind.h"
#include "ipc/eventfd_interrupt.h"
#include "device-procs/common/test_hooks.h"

namespace brig::devices {
namespace {

constexpr unsigned kLineStatusShadow = ipc::device_contract::kSerialLineStatusShadow;
constexpr int kInputPollMs = 100;  // how soon the input thread notices a stop

}  // namespace

SerialService::~SerialService() { stop_threads(); }

void SerialService::activate(std::map<std::string, base::UniqueFd> resources) {
    if (uart_) throw std::runtime_error("activate: already active");
    namespace resource = ipc::resource;
    auto irq = std::make_shared<CountingInterrupt>(
        std::make_shared<EventFdInterrupt>(take_resource(resources, std::string(resource::kIrq), true)),
        [this](uint64_t count) {
            if (server_) server_->publish_shadow(ipc::device_contract::kInterruptsShadow, count);
        });
    output_ = take_resource(resources, std::string(resource::kOutput), false);
    input_ = take_resource(resources, std::string(resource::kInput), false);
    // No mailbox: the device runs in brig's process and brig calls read()/write() itself.
    base::UniqueFd mailbox = take_resource(resources, std::string(resource::kMailbox), false);
    if (!resources.empty())
        throw std::runtime_error("activate: unexpected resource '" + resources.begin()->first + "'");

    if (output_) output_buffer_ = std::make_shared<BufferedOutput>(output_.get());
    uart_ = std::make_shared<Serial16550>(name_, irq, Serial16550::writer_for(output_buffer_));
    if (mailbox) {
        mailbox_.emplace(ipc::SharedMailbox::attach(std::move(mailbox)));
        server_ = std::make_unique<ipc::MailboxServer>(*mailbox_);
        publish_line_status();
        mailbox_thread_ = std::thread(
            [this] { server_->serve([this](const ipc::Access& access) { return handle_access(access); }); });
    }
    if (input_) input_thread_ = std::thread([this] { forward_input(); });
    log_.debug("active (input: {}, output: {})", input_ ? "yes" : "no", output_ ? "yes" : "sink");
}

uint64_t SerialService::handle_access(const ipc::Access& access) {
    uint64_t value = 0;
    if (access.op == ipc::AccessOp::Read) {
        value = read(access.offset, static_cast<uint8_t>(access.size));
    } else {
        write(access.offset, static_cast<uint8_t>(access.size), access.data);
    }
    return value;
}

void SerialService::publish_line_status() {
    if (server_) server_->publish_shadow(kLineStatusShadow, uart_->line_status());
}

void SerialService::forward_input() {
    uint8_t buf[256];
    size_t have = 0;
    while (!stopping_) {
        if (have == 0) {
            pollfd pfd{input_.get(), POLLIN, 0};
            if (poll(&pfd, 1, kInputPollMs) <= 0) continue;
            const ssize_t n = ::read(input_.get(), buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;  // EOF: no more input
            if (n < 0) continue;
            have = static_cast<size_t>(n);
        }
        const size_t taken = paused_ ? 0 : uart_->queue_input(std::span(buf, have));
        publish_line_status();
        if (taken < have) {
            std::memmove(buf, buf + taken, have - taken);
            if (taken == 0) usleep(10000);  // the guest is not reading; wait for room
        }
        have -= taken;
    }
}

void SerialService::pause() { paused_ = true; }
void SerialService::resume() { paused_ = false; }

void SerialService::reset() {
    if (!uart_) return;
    // What the guest wrote before the reset is already with the output buffer, whose
    // thread keeps writing it out: nothing of it is dropped here.
    uart_->reset();
    publish_line_status();
}

void SerialService::shutdown() {
    stop_threads();
    // Everything the guest wrote reaches the output (within a bound: a reader that
    // never reads cannot hold the VM's stop hostage), durably when it is a file.
    if (output_buffer_) {
        if (!output_buffer_->drain(BufferedOutput::kDrainOnDestroy))
            log_.warn("console output: the reader did not take the last bytes");
        if (const uint64_t lost = output_buffer_->dropped())
            log_.warn("console output: {} bytes dropped while the reader was not keeping up", lost);
    }
    if (output_) fdatasync(output_.get());
}

void SerialService::stop_threads() {
    stopping_ = true;
    if (server_) server_->stop();
    if (mailbox_thread_.joinable()) mailbox_thread_.join();
    if (input_thread_.joinable()) input_thread_.join();
}

uint64_t SerialService::read(uint64_t offset, uint8_t size) {
    if (!uart_) return 0;
    uint8_t bytes[8] = {};
    uart_->read(offset, std::span(bytes, std::min<size_t>(size, sizeof bytes)));
    publish_line_status();
    uint64_t value = 0;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

void SerialService::write(uint64_t offset, uint8_t size, uint64_t data) {
    if (!uart_) return;
    uint8_t bytes[8];
    std::memcpy(bytes, &data, sizeof bytes);
    if (server_) test_hooks::on_serial_write(offset, bytes[0], *server_);
    uart_->write(offset, std::span<const uint8_t>(bytes, std::min<size_t>(size, sizeof bytes)));
    publish_line_status();
}

}  // namespace brig::devices
