// The VMM-side stand-in for a device that lives in another process: it sits on the
// bus and forwards each access through the shared-memory mailbox (reads wait for the
// reply, writes are posted, order is kept). Registers the device publishes as
// shadows are served here without a round trip. A device that answers badly, late
// or not at all is reported through `on_failure`, never trusted.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "ipc/bus_device.h"
#include "ipc/mailbox.h"

namespace brig {

class DeviceProxy final : public BusDevice {
public:
    using FailureHandler = std::function<void(const std::string& device, const std::string& why)>;

    DeviceProxy(std::string name, std::shared_ptr<ipc::SharedMailbox> mailbox, std::chrono::milliseconds reply_timeout,
                std::map<uint64_t, unsigned> shadowed_offsets, FailureHandler on_failure);

    std::string_view name() const override { return name_; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // The device process is gone: fail every access at once instead of waiting.
    void mark_peer_dead() { client_.mark_peer_dead(); }
    // Whether the device has an access to answer (the supervisor's hang check).
    bool owes_answer() const { return client_.owes_answer(); }
    // A shadow the device publishes, as it is now (its counters, for brig status).
    uint64_t peek_shadow(unsigned index) const { return client_.peek_shadow(index); }

private:
    void fail(const std::string& why);

    std::string name_;
    std::shared_ptr<ipc::SharedMailbox> mailbox_;
    ipc::MailboxClient client_;
    std::map<uint64_t, unsigned> shadowed_offsets_;  // register offset -> shadow index
    FailureHandler on_failure_;
};

}  // namespace brig
