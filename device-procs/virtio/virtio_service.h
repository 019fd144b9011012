// A virtio device as a device process: one VirtioDevice behind a VirtioMmioTransport,
// hosted the way serial_service.h hosts the UART.
//
// activate() resources:
//   "irq"            the irqfd (eventfd) of the device's interrupt line
//   "mailbox"        the forwarding mailbox memfd; a thread of its own serves it and
//                    every access goes to the transport
//   "guest-memory"   the guest RAM memfd, mapped through virtio::GuestMemoryView
//   "queue0".."queueN-1"
//                    one ioeventfd per queue, signalled by KVM on a QueueNotify write of
//                    that index; an event thread polls them and calls transport.notify()
//   anything else    handed to the device's factory (e.g. "disk", "output", "input"),
//                    which takes what it uses; a leftover resource is an error.
//
// Threads: the mailbox thread (register accesses) and the event thread (queue
// notifies and device input). Every process_queue() runs on the event thread: the
// transport's deferred notifies (a QueueNotify write no ioeventfd caught, the re-check
// at DRIVER_OK) become a signal on that queue's eventfd.
//
// InterruptStatus is published in mailbox shadow kVirtioInterruptStatusShadow, which
// the VMM's proxy serves without a round trip. Errors the transport reports (a hostile
// queue) are logged at error level to the device's stderr, which is brig's.
#pragma once

#include <poll.h>

#include <atomic>
#include <deque>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipc/device_kind.h"
#include "ipc/device_service.h"
#include "ipc/eventfd_interrupt.h"
#include "ipc/mailbox.h"
#include "base/unique_fd.h"
#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtio_device.h"
#include "ipc/virtio/virtio_mmio.h"
#include "device-procs/common/counting_interrupt.h"
#include "device-procs/common/device_logger.h"
#include "device-procs/common/resources.h"

namespace brig::devices {

// The mailbox shadow that carries the virtio-mmio InterruptStatus register (shared
// with the VMM's proxy through ipc/virtio/virtio_mmio.h).
constexpr unsigned kVirtioInterruptStatusShadow = virtio::kInterruptStatusShadow;

// The fds activation hands over, by name (ipc/device_kind.h names them).
using Resources = std::map<std::string, base::UniqueFd>;
using ipc::Settings;

// What the service needs from a device beyond virtio::VirtioDevice. Everything here
// is called on the event thread, except flush() (on the control thread, after the
// event thread has stopped).
class HostedVirtioDevice : public virtio::VirtioDevice {
public:
    // Its kind's descriptor: the virtio id and the queue count come from there.
    virtual const ipc::DeviceKind& kind() const = 0;
    uint32_t device_id() const final { return kind().virtio_id; }
    unsigned queue_count() const final { return kind().queue_count; }

    // An fd the event thread watches for readability while wants_input() is true; -1: none.
    virtual int input_fd() const { return -1; }
    virtual bool wants_input() const { return false; }
    // input_fd() is readable (or hung up): take what is there. The service then kicks
    // input_queue(), so the device can hand it to the driver.
    virtual void pull_input() {}
    virtual unsigned input_queue() const { return 0; }

    // A device with many host fds (virtio-vsock's connections) lists them here instead,
    // each with the poll events it waits for; the default is input_fd() for POLLIN
    // while wants_input(). on_ready() gets what poll() said; after a round of them the
    // service kicks input_queue().
    struct Watch {
        int fd;
        short events;
    };
    virtual void watches(std::vector<Watch>& out) const {
        if (input_fd() >= 0 && wants_input()) out.push_back({input_fd(), POLLIN});
    }
    virtual void on_ready(int /*fd*/, short /*revents*/) { pull_input(); }

    // virtio-vsock: a host connection brig brokered (DeviceService::host_connection),
    // handed over on the event thread; then input_queue() is kicked.
    virtual void host_connection(uint32_t /*guest_port*/, uint32_t /*host_port*/, base::UniqueFd /*fd*/) {}
    // virtio-vsock: how the device asks brig for a host connection; given at activation,
    // callable on the event thread.
    virtual void set_host_connector(ipc::DeviceService::HostConnector /*connect*/) {}
    // Shutdown: make everything the guest was told is done durable (blk: fdatasync).
    virtual void flush() {}
};

// Builds the device from the resources left after the service took its own, and the
// activation's settings. It must erase every resource it uses from the map.
using VirtioDeviceFactory = std::function<std::unique_ptr<HostedVirtioDevice>(Resources&, const Settings&)>;

class VirtioService final : public ipc::DeviceService {
public:
    VirtioService(std::string name, VirtioDeviceFactory factory);
    // A device that takes no settings.
    VirtioService(std::string name, std::function<std::unique_ptr<HostedVirtioDevice>(Resources&)> factory)
        : VirtioService(std::move(name),
                        [factory = std::move(factory)](Resources& r, const Settings&) { return factory(r); }) {}
    ~VirtioService() override;

    void configure(const Settings& settings) override { settings_ = settings; }
    void activate(std::map<std::string, base::UniqueFd> resources) override;
    void pause() override;
    void resume() override;
    void reset() override;
    void shutdown() override;
    uint64_t read(uint64_t offset, uint8_t size) override;
    void write(uint64_t offset, uint8_t size, uint64_t data) override;
    // A hostile queue's error goes to brig as a report (jailed), or to the log.
    void set_error_reporter(std::function<void(const std::string&)> report) override;
    // Queued for the event thread, which hands it to the device.
    void host_connection(uint32_t guest_port, uint32_t host_port, base::UniqueFd fd) override;
    void set_host_connector(HostConnector connect) override;

private:
    uint64_t handle_access(const ipc::Access& access);
    void report_error(const std::string& message);
    void event_loop();
    void wake_event_thread();
    void stop_threads();

    std::string name_;
    DeviceLogger log_;
    VirtioDeviceFactory factory_;
    Settings settings_;  // from configure(), for the factory
    std::unique_ptr<HostedVirtioDevice> device_;
    std::optional<virtio::GuestMemoryView> memory_;
    std::unique_ptr<virtio::VirtioMmioTransport> transport_;
    std::optional<ipc::SharedMailbox> mailbox_;
    std::unique_ptr<ipc::MailboxServer> server_;
    std::vector<base::UniqueFd> queue_fds_;
    base::UniqueFd wake_fd_;  // pause/resume/stop wake the event thread through it
    std::thread mailbox_thread_;
    std::thread event_thread_;

    std::mutex report_mutex_;
    std::function<void(const std::string&)> report_;  // guarded by report_mutex_
    HostConnector host_connector_;                    // guarded by report_mutex_
    struct HostConnection {
        uint32_t guest_port;
        uint32_t host_port;
        base::UniqueFd fd;
    };
    std::deque<HostConnection> host_connections_;  // for the event thread; guarded by mutex_
    std::mutex mutex_;
    std::condition_variable parked_changed_;
    bool paused_ = false;  // guarded by mutex_
    bool parked_ = false;  // the event thread saw paused_ and does nothing; guarded by mutex_
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> notifies_{0};
    std::shared_ptr<CountingInterrupt> interrupts_;  // the irqfd, counted
};

}  // namespace brig::devices
