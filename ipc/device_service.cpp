#include "ipc/device_service.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/timer.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

#include "base/eventfd.h"
#include "ipc/control_text.h"
#include "ipc/device.capnp.h"

namespace brig::ipc {

namespace {

namespace schema = brig::ipc::schema;
using Side = capnp::rpc::twoparty::Side;

// Bounds on what the device accepts from the VMM.
constexpr unsigned kMaxResources = 16;
constexpr size_t kMaxResourceName = 32;
constexpr unsigned kMaxSettings = 8;
constexpr size_t kMaxSettingValue = 256;

bool printable(kj::StringPtr text) {
    for (char c : text)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}
// How long the device waits for the VMM to hang up after answering shutdown().
constexpr auto kShutdownLinger = 1 * kj::SECONDS;

capnp::ReaderOptions control_reader_options() {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 64 * 1024;
    options.nestingLimit = 16;
    return options;
}

bool valid_size(uint8_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

uint64_t mask_to_size(uint64_t value, uint8_t size) {
    return size >= 8 ? value : value & ((uint64_t{1} << (size * 8)) - 1);
}

class DeviceServer final : public schema::Device::Server {
public:
    DeviceServer(DeviceService& service, kj::Own<kj::PromiseFulfiller<void>> on_shutdown)
        : service_(service), on_shutdown_(kj::mv(on_shutdown)) {}

    kj::Promise<void> activate(ActivateContext context) override {
        auto resources = context.getParams().getResources();
        KJ_REQUIRE(resources.size() <= kMaxResources, "too many resources", resources.size());
        std::vector<std::string> names;
        std::set<std::string> seen;
        auto fds = kj::heapArrayBuilder<kj::Promise<kj::Maybe<int>>>(resources.size());
        for (auto resource : resources) {
            auto name = resource.getName();
            KJ_REQUIRE(name.size() > 0 && name.size() <= kMaxResourceName, "bad resource name length", name.size());
            KJ_REQUIRE(printable(name), "resource name is not printable ASCII");
            KJ_REQUIRE(seen.insert(name.cStr()).second, "duplicate resource", name.cStr());
            names.emplace_back(name.cStr());
            fds.add(resource.getFd().getFd());
        }
        auto given = context.getParams().getSettings();
        KJ_REQUIRE(given.size() <= kMaxSettings, "too many settings", given.size());
        Settings settings;
        for (auto setting : given) {
            auto name = setting.getName();
            auto value = setting.getValue();
            KJ_REQUIRE(name.size() > 0 && name.size() <= kMaxResourceName && printable(name), "bad setting name");
            KJ_REQUIRE(value.size() <= kMaxSettingValue && printable(value), "bad setting value", name.cStr());
            KJ_REQUIRE(settings.emplace(name.cStr(), value.cStr()).second, "duplicate setting", name.cStr());
        }
        // The received fds belong to the RPC layer (they close with the message), so each
        // one is duplicated before the call returns.
        return kj::joinPromises(fds.finish())
            .then([this, names = std::move(names), settings = std::move(settings)](kj::Array<kj::Maybe<int>> got) {
                std::map<std::string, base::UniqueFd> owned;
                for (size_t i = 0; i < names.size(); ++i) {
                    KJ_IF_MAYBE (fd, got[i]) {
                        base::UniqueFd dup(::fcntl(*fd, F_DUPFD_CLOEXEC, 0));
                        KJ_REQUIRE(dup.valid(), "cannot duplicate a received fd", names[i]);
                        owned.emplace(names[i], std::move(dup));
                    } else {
                        KJ_FAIL_REQUIRE("resource arrived without an fd", names[i]);
                    }
                }
                service_.configure(settings);
                service_.activate(std::move(owned));
            });
    }

    kj::Promise<void> pause(PauseContext) override {
        service_.pause();
        return kj::READY_NOW;
    }

    kj::Promise<void> resume(ResumeContext) override {
        service_.resume();
        return kj::READY_NOW;
    }

    kj::Promise<void> reset(ResetContext) override {
        service_.reset();
        return kj::READY_NOW;
    }

    kj::Promise<void> shutdown(ShutdownContext) override {
        service_.shutdown();
        on_shutdown_->fulfill();  // serve_device() returns once this reply is out
        return kj::READY_NOW;
    }

    kj::Promise<void> read(ReadContext context) override {
        const auto params = context.getParams();
        const uint8_t size = params.getSize();
        KJ_REQUIRE(valid_size(size), "bad access size", size);
        context.getResults().setData(mask_to_size(service_.read(params.getOffset(), size), size));
        return kj::READY_NOW;
    }

    kj::Promise<void> write(WriteContext context) override {
        const auto params = context.getParams();
        const uint8_t size = params.getSize();
        KJ_REQUIRE(valid_size(size), "bad access size", size);
        service_.write(params.getOffset(), size, mask_to_size(params.getData(), size));
        return kj::READY_NOW;
    }

    kj::Promise<void> hostConnection(HostConnectionContext context) override {
        const auto params = context.getParams();
        const uint32_t guest_port = params.getGuestPort();
        const uint32_t host_port = params.getHostPort();
        if (!params.hasFd()) {
            service_.host_connection(guest_port, host_port, {});
            return kj::READY_NOW;
        }
        return params.getFd().getFd().then([this, guest_port, host_port](kj::Maybe<int> got) {
            KJ_IF_MAYBE (fd, got) {
                base::UniqueFd dup(::fcntl(*fd, F_DUPFD_CLOEXEC, 0));
                KJ_REQUIRE(dup.valid(), "cannot duplicate a received host connection");
                service_.host_connection(guest_port, host_port, std::move(dup));
            } else {
                service_.host_connection(guest_port, host_port, {});
            }
        });
    }

private:
    DeviceService& service_;
    kj::Own<kj::PromiseFulfiller<void>> on_shutdown_;
};

// Calls a watched fd's callback whenever it is readable. kj's observer is edge-triggered,
// so after each callback the fd is polled and, if still readable, served again on a later
// turn: a callback that reads only part of what is pending is not left hanging.
class FdWatch {
public:
    FdWatch(kj::UnixEventPort& port, WatchedFd watched, std::exception_ptr& failure, kj::PromiseFulfiller<void>& failed)
        : watched_(std::move(watched)),
          observer_(port, watched_.fd, kj::UnixEventPort::FdObserver::OBSERVE_READ),
          failure_(failure),
          failed_(failed) {}

    kj::Promise<void> run() {
        return observer_.whenBecomesReadable().then([this] { return serve(); });
    }

private:
    kj::Promise<void> serve() {
        try {
            watched_.on_readable();
        } catch (...) {
            if (!failure_) failure_ = std::current_exception();
            if (failed_.isWaiting()) failed_.fulfill();
            return kj::NEVER_DONE;
        }
        pollfd p{watched_.fd, POLLIN, 0};
        if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) && !(p.revents & (POLLHUP | POLLERR | POLLNVAL)))
            return kj::evalLater([this] { return serve(); });
        return run();
    }

    WatchedFd watched_;
    kj::UnixEventPort::FdObserver observer_;
    std::exception_ptr& failure_;
    kj::PromiseFulfiller<void>& failed_;
};

// What the device's threads send brig (an event thread that met a hostile queue, a
// guest connecting to a host port), sent to the VMM on the serving thread, which alone
// may touch the RPC system. Bounded: past kMaxPending unsent error reports more are
// dropped (brig's budget would refuse a flood anyway), and connect requests are held
// to kHostConnectsPerSecond, the rate brig's broker serves. Shared with the callers,
// which may outlive the loop.
class UpcallQueue {
public:
    static constexpr size_t kMaxPending = 16;
    struct ConnectHost {
        uint32_t guest_port;
        uint32_t host_port;
    };

    UpcallQueue() : wake_(base::make_eventfd("device upcalls")) {}
    int fd() const { return wake_.get(); }

    void report(const std::string& message) {
        {
            std::lock_guard lock(mutex_);
            if (closed_ || reports_.size() >= kMaxPending) return;
            reports_.push_back(sanitize_report(message));
        }
        base::signal_eventfd(wake_.get());
    }
    bool connect_host(uint32_t guest_port, uint32_t host_port) {
        {
            std::lock_guard lock(mutex_);
            const auto now = std::chrono::steady_clock::now();
            if (now - window_start_ >= std::chrono::seconds(1)) {
                window_start_ = now;
                window_connects_ = 0;
            }
            if (closed_ || window_connects_ >= device_contract::kHostConnectsPerSecond) return false;
            ++window_connects_;
            connects_.push_back({guest_port, host_port});
        }
        base::signal_eventfd(wake_.get());
        return true;
    }
    std::pair<std::vector<std::string>, std::vector<ConnectHost>> take() {
        base::drain_eventfd(wake_.get());
        std::lock_guard lock(mutex_);
        return {std::exchange(reports_, {}), std::exchange(connects_, {})};
    }
    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }

private:
    base::UniqueFd wake_;
    std::mutex mutex_;
    // guarded by mutex_:
    std::vector<std::string> reports_;
    std::vector<ConnectHost> connects_;
    std::chrono::steady_clock::time_point window_start_{};
    unsigned window_connects_ = 0;
    bool closed_ = false;
};

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
public:
    void taskFailed(kj::Exception&&) override {}  // a lost report changes nothing
};

}  // namespace

void serve_device(base::UniqueFd control_socket, DeviceService& service, std::vector<WatchedFd> watched,
                  std::function<void(std::function<void(const std::string&)>)> set_error_reporter) {
    auto io = kj::setupAsyncIo();
    auto stream =
        io.lowLevelProvider->wrapUnixSocketFd(control_socket.release(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    capnp::TwoPartyVatNetwork network(*stream, kMaxResources, Side::SERVER, control_reader_options());
    auto shutdown = kj::newPromiseAndFulfiller<void>();
    auto rpc = capnp::makeRpcServer(network, kj::heap<DeviceServer>(service, kj::mv(shutdown.fulfiller)));

    capnp::MallocMessageBuilder vat_message(8);
    auto vmm = vat_message.initRoot<capnp::rpc::twoparty::VatId>();
    vmm.setSide(Side::CLIENT);
    auto supervisor = rpc.bootstrap(vmm).castAs<schema::Supervisor>();

    IgnoreErrors ignore_errors;
    kj::TaskSet reports(ignore_errors);
    auto upcalls = std::make_shared<UpcallQueue>();
    if (set_error_reporter) set_error_reporter([upcalls](const std::string& message) { upcalls->report(message); });
    service.set_host_connector(
        [upcalls](uint32_t guest_port, uint32_t host_port) { return upcalls->connect_host(guest_port, host_port); });
    watched.push_back({upcalls->fd(), [&supervisor, &reports, &upcalls] {
                           auto [messages, connects] = upcalls->take();
                           for (const auto& message : messages) {
                               auto request = supervisor.reportErrorRequest();
                               request.setMessage(message);
                               reports.add(request.send().ignoreResult());
                           }
                           for (const auto& connect : connects) {
                               auto request = supervisor.connectHostRequest();
                               request.setGuestPort(connect.guest_port);
                               request.setHostPort(connect.host_port);
                               reports.add(request.send().ignoreResult());
                           }
                       }});

    std::exception_ptr failure;
    auto failed = kj::newPromiseAndFulfiller<void>();
    std::vector<std::unique_ptr<FdWatch>> watches;
    kj::TaskSet watch_tasks(ignore_errors);
    for (auto& w : watched) {
        watches.push_back(std::make_unique<FdWatch>(io.unixEventPort, std::move(w), failure, *failed.fulfiller));
        watch_tasks.add(watches.back()->run());
    }

    // Done when shutdown() was answered (then linger for the VMM to hang up, so the
    // reply is flushed), when the VMM disconnects, or when a watched callback throws.
    auto answered = shutdown.promise.then(
        [&] { return network.onDisconnect().exclusiveJoin(io.provider->getTimer().afterDelay(kShutdownLinger)); });
    auto done = answered.exclusiveJoin(network.onDisconnect()).exclusiveJoin(kj::mv(failed.promise));
    try {
        done.wait(io.waitScope);
    } catch (const kj::Exception&) {
        // A broken connection is the VMM going away: nothing left to serve.
    }
    upcalls->close();
    if (set_error_reporter) set_error_reporter({});
    service.set_host_connector({});
    if (failure) std::rethrow_exception(failure);
}

}  // namespace brig::ipc
