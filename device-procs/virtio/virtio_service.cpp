#include "device-procs/virtio/virtio_service.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "base/error.h"
#include "base/eventfd.h"
#include "device-procs/common/resources.h"
#include "ipc/poll_set.h"

namespace brig::devices {
namespace {

// While the driver cannot take it (before DRIVER_OK, in NEEDS_RESET, its queue not
// ready), pending device input is left in its fd and the event thread looks again this
// often.
constexpr int kInputRecheckMs = 100;
// pause() waits this long for the event thread to finish the request it is on.
constexpr auto kPauseWait = std::chrono::seconds(1);

}  // namespace

VirtioService::VirtioService(std::string name, VirtioDeviceFactory factory)
    : name_(std::move(name)), log_(name_), factory_(std::move(factory)) {}

VirtioService::~VirtioService() { stop_threads(); }

void VirtioService::activate(std::map<std::string, base::UniqueFd> resources) {
    if (transport_) throw std::runtime_error("activate: already active");
    namespace resource = ipc::resource;
    auto irq = interrupts_ = std::make_shared<CountingInterrupt>(
        std::make_shared<EventFdInterrupt>(take_resource(resources, std::string(resource::kIrq), true)),
        [this](uint64_t count) {
            if (server_) server_->publish_shadow(ipc::device_contract::kInterruptsShadow, count);
        });
    // No mailbox: the device runs in brig's process and brig calls read()/write() itself.
    base::UniqueFd mailbox_fd = take_resource(resources, std::string(resource::kMailbox), false);
    base::UniqueFd memory_fd = take_resource(resources, std::string(resource::kGuestMemory), true);
    auto device = factory_(resources, settings_);
    if (!device) throw std::runtime_error("activate: no device");
    std::vector<base::UniqueFd> queue_fds;
    for (unsigned q = 0; q < device->queue_count(); ++q)
        queue_fds.push_back(take_resource(resources, resource::queue(q), true));
    if (!resources.empty())
        throw std::runtime_error("activate: unexpected resource '" + resources.begin()->first + "'");

    base::UniqueFd wake = base::make_eventfd("activate: event thread wake");

    device_ = std::move(device);
    device_->set_host_connector([this](uint32_t guest_port, uint32_t host_port) {
        std::lock_guard lock(report_mutex_);
        return host_connector_ && host_connector_(guest_port, host_port);
    });
    queue_fds_ = std::move(queue_fds);
    wake_fd_ = std::move(wake);
    memory_.emplace(virtio::GuestMemoryView::map(std::move(memory_fd)));
    if (mailbox_fd) {
        mailbox_.emplace(ipc::SharedMailbox::attach(std::move(mailbox_fd)));
        server_ = std::make_unique<ipc::MailboxServer>(*mailbox_);
        server_->publish_shadow(kVirtioInterruptStatusShadow, 0);
    }
    transport_ = std::make_unique<virtio::VirtioMmioTransport>(
        *device_, *memory_, std::move(irq),
        [this](uint32_t status) {
            if (server_) server_->publish_shadow(kVirtioInterruptStatusShadow, status);
        },
        // The transport has already put the device in NEEDS_RESET; the VM keeps running.
        [this](const std::string& message) { report_error(message); });
    // A notify that no ioeventfd caught (and the re-check at DRIVER_OK) goes to the event
    // thread, which runs every queue.
    transport_->set_deferred_notify([this](unsigned queue) {
        if (queue < queue_fds_.size()) base::signal_eventfd(queue_fds_[queue].get());
    });

    if (server_) {
        mailbox_thread_ = std::thread(
            [this] { server_->serve([this](const ipc::Access& access) { return handle_access(access); }); });
    }
    event_thread_ = std::thread([this] { event_loop(); });
    log_.debug("active: device id {}, {} queues", device_->device_id(), queue_fds_.size());
}

uint64_t VirtioService::handle_access(const ipc::Access& access) {
    try {
        if (access.op == ipc::AccessOp::Read) return transport_->read(access.offset, access.size);
        transport_->write(access.offset, access.size, access.data);
    } catch (const std::exception& e) {
        log_.error("register access at {:#x}: {}", access.offset, e.what());
    }
    return 0;
}

namespace {
// What an fd in the event thread's wait set is.
struct EventSource {
    enum Kind { Wake, Queue, Input } kind;
    unsigned queue = 0;  // Queue: its index; Input: the device's fd
};
}  // namespace

void VirtioService::event_loop() {
    ipc::PollSet<EventSource> waits;
    std::vector<HostedVirtioDevice::Watch> device_watches;
    while (!stopping_) {
        bool paused;
        std::deque<HostConnection> arrived;
        {
            std::lock_guard lock(mutex_);
            paused = paused_;
            if (parked_ != paused) {
                parked_ = paused;
                parked_changed_.notify_all();
            }
            if (!paused) arrived.swap(host_connections_);
        }
        if (!arrived.empty()) {
            try {
                for (auto& c : arrived) device_->host_connection(c.guest_port, c.host_port, std::move(c.fd));
                transport_->kick(device_->input_queue());
            } catch (const std::exception& e) {
                log_.error("event thread: {}", e.what());
            }
        }
        waits.clear();
        waits.add(wake_fd_.get(), POLLIN, {EventSource::Wake});
        int timeout = -1;
        if (!paused) {
            for (unsigned q = 0; q < queue_fds_.size(); ++q)
                waits.add(queue_fds_[q].get(), POLLIN, {EventSource::Queue, q});
            device_watches.clear();
            device_->watches(device_watches);
            if (!device_watches.empty()) {
                // Only while its queue would be served: a driver in NEEDS_RESET, FAILED
                // or without that queue ready would leave the input readable and the
                // thread spinning on it.
                if (transport_->queue_usable(device_->input_queue())) {
                    for (const auto& w : device_watches)
                        waits.add(w.fd, w.events, {EventSource::Input, static_cast<unsigned>(w.fd)});
                } else {
                    timeout = kInputRecheckMs;
                }
            }
        }
        if (waits.wait(timeout) < 0) {
            if (errno == EINTR) continue;
            log_.error("event thread: poll: {}", base::errno_text(errno));
            break;
        }
        const auto ready = waits.ready();
        for (const auto& [source, revents] : ready)
            if (source.kind == EventSource::Wake) base::drain_eventfd(wake_fd_.get());
        if (paused || stopping_) continue;
        try {
            bool input = false;
            for (const auto& [source, revents] : ready) {
                if (source.kind == EventSource::Queue && (revents & POLLIN)) {
                    const uint64_t taken = base::drain_eventfd(queue_fds_[source.queue].get());
                    const uint64_t total = notifies_.fetch_add(taken, std::memory_order_relaxed) + taken;
                    if (server_) server_->publish_shadow(ipc::device_contract::kNotifiesShadow, total);
                    transport_->notify(source.queue);
                } else if (source.kind == EventSource::Input) {
                    device_->on_ready(static_cast<int>(source.queue), revents);
                    input = true;
                }
            }
            if (input) transport_->kick(device_->input_queue());
        } catch (const std::exception& e) {
            // The transport turns a hostile queue into NEEDS_RESET itself; anything that
            // still escapes is logged and the device keeps serving the other queues.
            log_.error("event thread: {}", e.what());
        }
    }
    std::lock_guard lock(mutex_);
    parked_ = true;
    parked_changed_.notify_all();
}

void VirtioService::set_error_reporter(std::function<void(const std::string&)> report) {
    std::lock_guard lock(report_mutex_);
    report_ = std::move(report);
}

void VirtioService::report_error(const std::string& message) {
    {
        std::lock_guard lock(report_mutex_);
        if (report_) {
            report_(message);
            return;
        }
    }
    log_.error("{}", message);
}

void VirtioService::host_connection(uint32_t guest_port, uint32_t host_port, base::UniqueFd fd) {
    {
        std::lock_guard lock(mutex_);
        if (!event_thread_.joinable()) return;  // not active: nothing to hand it to
        host_connections_.push_back({guest_port, host_port, std::move(fd)});
    }
    wake_event_thread();
}

void VirtioService::set_host_connector(HostConnector connect) {
    std::lock_guard lock(report_mutex_);
    host_connector_ = std::move(connect);
}

void VirtioService::wake_event_thread() {
    if (wake_fd_) base::signal_eventfd(wake_fd_.get());
}

void VirtioService::pause() {
    std::unique_lock lock(mutex_);
    paused_ = true;
    if (!event_thread_.joinable()) return;
    wake_event_thread();
    // Wait for the request in flight (a disk write, say) so that nothing touches guest
    // memory once we answer; bounded, because a console output fd may block forever.
    if (!parked_changed_.wait_for(lock, kPauseWait, [this] { return parked_; }))
        log_.warn("pause: the event thread is still busy");
}

void VirtioService::resume() {
    std::lock_guard lock(mutex_);
    paused_ = false;
    wake_event_thread();
}

// The event thread parks first, having finished the request it was on, so the
// device is reset between requests; what the guest was told is written is flushed
// before the next boot can read it.
void VirtioService::reset() {
    if (!transport_) return;
    bool was_paused;
    {
        std::lock_guard lock(mutex_);
        was_paused = paused_;
    }
    pause();
    device_->flush();
    transport_->reset();
    {
        std::lock_guard lock(mutex_);
        host_connections_.clear();  // brokered for the last boot's driver
    }
    // Notifies the last boot sent and nobody took: the new driver has no queues yet.
    for (const auto& fd : queue_fds_) base::drain_eventfd(fd.get());
    if (!was_paused) resume();
    log_.debug("reset (a reboot in place)");
}

void VirtioService::shutdown() {
    stop_threads();
    if (device_) device_->flush();
    log_.debug("{} queue notifies (ioeventfd), {} interrupts (irqfd)", notifies_.load(),
               interrupts_ ? interrupts_->count() : 0);
    // A device process's own CPU time, for bench/net.py (in brig's process it would be brig's).
    timespec cpu{};
    if (server_ && clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0)
        log_.debug("cpu time {} us", cpu.tv_sec * 1000000 + cpu.tv_nsec / 1000);
}

void VirtioService::stop_threads() {
    stopping_ = true;
    wake_event_thread();
    if (event_thread_.joinable()) event_thread_.join();
    if (server_) server_->stop();
    if (mailbox_thread_.joinable()) mailbox_thread_.join();
}

uint64_t VirtioService::read(uint64_t offset, uint8_t size) {
    if (!transport_) return 0;
    return handle_access(ipc::Access{ipc::AccessOp::Read, size, offset, 0});
}

void VirtioService::write(uint64_t offset, uint8_t size, uint64_t data) {
    if (!transport_) return;
    handle_access(ipc::Access{ipc::AccessOp::Write, size, offset, data});
}

}  // namespace brig::devices
