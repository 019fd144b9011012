// The serial console as a device process: the 16550A behind the control path
// (activate hands over its irqfd, console fds and the mailbox) and the mailbox
// forwarding path, which a thread of its own serves.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "device-procs/common/device_logger.h"
#include "ipc/device_service.h"
#include "ipc/mailbox.h"
#include "device-procs/serial/serial_16550.h"

namespace brig::devices {

class SerialService final : public ipc::DeviceService {
public:
    explicit SerialService(std::string name) : name_(std::move(name)), log_(name_) {}
    ~SerialService() override;

    void activate(std::map<std::string, base::UniqueFd> resources) override;
    void pause() override;
    void resume() override;
    void reset() override;
    void shutdown() override;
    uint64_t read(uint64_t offset, uint8_t size) override;
    void write(uint64_t offset, uint8_t size, uint64_t data) override;

private:
    uint64_t handle_access(const ipc::Access& access);
    void publish_line_status();
    void forward_input();
    void stop_threads();

    std::string name_;
    DeviceLogger log_;
    base::UniqueFd output_;
    std::shared_ptr<BufferedOutput> output_buffer_;  // guest output on its way to output_
    base::UniqueFd input_;
    std::shared_ptr<devices::Serial16550> uart_;
    std::optional<ipc::SharedMailbox> mailbox_;
    std::unique_ptr<ipc::MailboxServer> server_;
    std::thread mailbox_thread_;
    std::thread input_thread_;
    std::atomic<bool> paused_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace brig::devices
