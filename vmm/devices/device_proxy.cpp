#include "vmm/devices/device_proxy.h"

#include <cstring>

namespace brig {

DeviceProxy::DeviceProxy(std::string name, std::shared_ptr<ipc::SharedMailbox> mailbox,
                         std::chrono::milliseconds reply_timeout, std::map<uint64_t, unsigned> shadowed_offsets,
                         FailureHandler on_failure)
    : name_(std::move(name)),
      mailbox_(std::move(mailbox)),
      client_(*mailbox_, reply_timeout),
      shadowed_offsets_(std::move(shadowed_offsets)),
      on_failure_(std::move(on_failure)) {}

// The first failure is the device's last: every later access fails at once, so a guest
// loop (`rep insb` of 1024 bytes) cannot hold a vCPU for a timeout per access.
void DeviceProxy::fail(const std::string& why) {
    client_.mark_peer_dead();
    on_failure_(name_, why);
}

namespace {
// The mailbox carries accesses of 1, 2, 4 or 8 bytes. KVM hands over other sizes when a
// guest access crosses the end of a window (a 4-byte read at window + 0xffd arrives as
// 3 bytes): that is the guest's doing, so it becomes byte accesses, never an error.
bool mailbox_size(size_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }
}  // namespace

void DeviceProxy::read(uint64_t offset, std::span<uint8_t> data) {
    if (!mailbox_size(data.size())) {
        for (size_t i = 0; i < data.size(); ++i) read(offset + i, data.subspan(i, 1));
        return;
    }
    std::memset(data.data(), 0xff, data.size());  // what the guest sees if the device fails
    uint64_t value = 0;
    try {
        auto shadow = shadowed_offsets_.find(offset);
        if (shadow != shadowed_offsets_.end()) {
            value = client_.read_shadow(shadow->second);
        } else {
            value = client_.read(offset, static_cast<uint32_t>(data.size()));
        }
    } catch (const ipc::MailboxError& e) {
        fail(e.what());
        return;
    }
    std::memcpy(data.data(), &value, std::min(data.size(), sizeof value));
}

void DeviceProxy::write(uint64_t offset, std::span<const uint8_t> data) {
    if (!mailbox_size(data.size())) {
        for (size_t i = 0; i < data.size(); ++i) write(offset + i, data.subspan(i, 1));
        return;
    }
    uint64_t value = 0;
    std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
    try {
        client_.post_write(offset, static_cast<uint32_t>(data.size()), value);
    } catch (const ipc::MailboxError& e) {
        fail(e.what());
    }
}

}  // namespace brig
