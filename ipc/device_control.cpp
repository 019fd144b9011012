#include "ipc/device_control.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <fcntl.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/timer.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <exception>
#include <future>
#include <map>
#include <thread>

#include "base/error.h"
#include "ipc/control_text.h"
#include "ipc/device.capnp.h"

// GCC 12 sees a std::string inside kj's Maybe<Outcome> as maybe-uninitialized (false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace brig::ipc {

namespace {

namespace schema = brig::ipc::schema;
using Side = capnp::rpc::twoparty::Side;

// Most fds one control message may carry (activate's resources, bounded by the device).
constexpr unsigned kMaxFdsPerMessage = 16;

capnp::ReaderOptions control_reader_options() {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 64 * 1024;  // 512 KiB: control messages are tiny
    options.nestingLimit = 16;
    return options;
}

// Hands an fd to the device: the RPC layer sends it with SCM_RIGHTS along with the cap.
class FdCapability final : public schema::FileDescriptor::Server {
public:
    explicit FdCapability(base::UniqueFd fd) : fd_(std::move(fd)) {}
    kj::Maybe<int> getFd() override { return fd_.get(); }

private:
    base::UniqueFd fd_;
};

// How many of a device's error reports brig logs; later ones are only counted.
constexpr unsigned kReportsLogged = 5;

class SupervisorServer final : public schema::Supervisor::Server {
public:
    SupervisorServer(std::string device, IpcThread::ErrorReportHandler handler,
                     IpcThread::HostConnectHandler on_connect_host, GuardedMessageStream& guard)
        : device_(std::move(device)),
          handler_(std::move(handler)),
          on_connect_host_(std::move(on_connect_host)),
          guard_(guard) {}
    ~SupervisorServer() noexcept {
        if (unlogged_ > 0)
            spdlog::warn("[{}] {} more error reports from the device were not logged", device_, unlogged_);
    }

    kj::Promise<void> reportError(ReportErrorContext context) override {
        if (!guard_.admit_report()) return kj::READY_NOW;
        if (logged_ >= kReportsLogged) {
            ++unlogged_;
            return kj::READY_NOW;
        }
        ++logged_;
        const auto text = context.getParams().getMessage();
        const std::string message = sanitize_report(std::string_view(text.cStr(), text.size()));
        if (handler_) {
            try {
                handler_(device_, message);
            } catch (const std::exception& e) {
                spdlog::warn("[ipc] {}: error report handler threw: {}", device_, e.what());
            }
        }
        return kj::READY_NOW;
    }

    kj::Promise<void> connectHost(ConnectHostContext context) override {
        if (!guard_.admit_host_connect()) return kj::READY_NOW;
        const auto params = context.getParams();
        if (!on_connect_host_) return kj::READY_NOW;  // a kind with no host side: nothing to answer
        try {
            on_connect_host_(device_, params.getGuestPort(), params.getHostPort());
        } catch (const std::exception& e) {
            spdlog::warn("[ipc] {}: host connection handler threw: {}", device_, e.what());
        }
        return kj::READY_NOW;
    }

private:
    std::string device_;
    IpcThread::ErrorReportHandler handler_;
    IpcThread::HostConnectHandler on_connect_host_;
    GuardedMessageStream& guard_;
    unsigned logged_ = 0;
    uint64_t unlogged_ = 0;
};

// Everything of one device connection; lives on the IPC thread only.
struct Connection {
    Connection(kj::LowLevelAsyncIoProvider& provider, const std::string& device, base::UniqueFd socket,
               IpcThread::ErrorReportHandler on_report, IpcThread::FaultHandler on_fault,
               IpcThread::HostConnectHandler on_connect_host)
        : stream(provider.wrapUnixSocketFd(socket.release(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP)),
          guard(*stream, ControlBudget{},
                [device, on_fault = std::move(on_fault)](const ControlFault& fault) {
                    spdlog::warn("[{}] {}: {}", device, reason_of(fault.kind), fault.detail);
                    if (on_fault) on_fault(device, fault);
                }),
          network(guard, kMaxFdsPerMessage, Side::CLIENT, control_reader_options()),
          rpc(capnp::makeRpcServer(
              network, kj::heap<SupervisorServer>(device, std::move(on_report), std::move(on_connect_host), guard))) {
        guard.watch_queue(network);
        capnp::MallocMessageBuilder message(8);
        auto peer = message.initRoot<capnp::rpc::twoparty::VatId>();
        peer.setSide(Side::SERVER);
        device_cap = rpc.bootstrap(peer).castAs<schema::Device>();
    }

    kj::Own<kj::AsyncCapabilityStream> stream;
    GuardedMessageStream guard;
    capnp::TwoPartyVatNetwork network;
    capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
    schema::Device::Client device_cap{nullptr};
};

// The result of one call, carried back across threads without exceptions.
struct Outcome {
    enum class Kind { Ok, TimedOut, Lost, Failed } kind = Kind::Lost;
    uint64_t value = 0;
    std::string detail;
};

bool valid_size(uint8_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

uint64_t mask_to_size(uint64_t value, uint8_t size) {
    return size >= 8 ? value : value & ((uint64_t{1} << (size * 8)) - 1);
}

}  // namespace

// The event loop and its connections; shared with every ControlClient so that one
// outliving the IpcThread fails cleanly instead of touching freed memory.
struct IpcLoop {
    kj::Own<const kj::Executor> executor;
    // The fields below belong to the IPC thread.
    kj::AsyncIoContext* io = nullptr;
    kj::Own<kj::PromiseFulfiller<void>> stop;
    std::map<uint64_t, kj::Own<Connection>> connections;
    uint64_t next_id = 1;

    Connection* find(uint64_t id) {
        auto it = connections.find(id);
        return it == connections.end() ? nullptr : it->second.get();
    }

    void run(std::promise<void>& ready) {  // on the IPC thread
        pthread_setname_np(pthread_self(), "brig-ipc");
        try {
            auto context = kj::setupAsyncIo();
            auto stopped = kj::newPromiseAndFulfiller<void>();
            io = &context;
            stop = kj::mv(stopped.fulfiller);
            executor = kj::getCurrentThreadExecutor().addRef();
            ready.set_value();
            stopped.promise.wait(context.waitScope);
            connections.clear();
            io = nullptr;
        } catch (const kj::Exception& e) {
            spdlog::error("[ipc] event loop failed: {}", e.getDescription().cStr());
            connections.clear();
            io = nullptr;
        }
    }
};

struct IpcThread::Impl {
    std::shared_ptr<IpcLoop> loop = std::make_shared<IpcLoop>();
    std::thread thread;
};

namespace {

class ControlClient final : public DeviceControl {
public:
    ControlClient(std::string device, kj::Own<const kj::Executor> executor, std::shared_ptr<IpcLoop> ipc, uint64_t id)
        : device_(std::move(device)), executor_(kj::mv(executor)), ipc_(std::move(ipc)), id_(id) {}

    ~ControlClient() noexcept override { disconnect(); }

    void activate(const std::vector<NamedFd>& resources, const Settings& settings,
                  std::chrono::milliseconds timeout) override {
        std::vector<std::pair<std::string, base::UniqueFd>> dups;
        for (const auto& r : resources) {
            base::UniqueFd fd(::fcntl(r.fd, F_DUPFD_CLOEXEC, 0));
            if (!fd)
                throw DeviceControlError(
                    device_ + ": activate: " + base::errno_message("cannot duplicate fd for '" + r.name + "'"));
            dups.emplace_back(r.name, std::move(fd));
        }
        call("activate", timeout, [&dups, &settings](Connection& c) {
            auto request = c.device_cap.activateRequest();
            auto list = request.initResources(static_cast<unsigned>(dups.size()));
            for (unsigned i = 0; i < dups.size(); ++i) {
                list[i].setName(dups[i].first);
                list[i].setFd(kj::heap<FdCapability>(std::move(dups[i].second)));
            }
            auto values = request.initSettings(static_cast<unsigned>(settings.size()));
            unsigned i = 0;
            for (const auto& [name, value] : settings) {
                values[i].setName(name);
                values[i++].setValue(value);
            }
            return request.send().ignoreResult().then([] { return uint64_t{0}; });
        });
    }

    void pause(std::chrono::milliseconds timeout) override {
        call("pause", timeout, [](Connection& c) {
            return c.device_cap.pauseRequest().send().ignoreResult().then([] { return uint64_t{0}; });
        });
    }

    void resume(std::chrono::milliseconds timeout) override {
        call("resume", timeout, [](Connection& c) {
            return c.device_cap.resumeRequest().send().ignoreResult().then([] { return uint64_t{0}; });
        });
    }

    void reset(std::chrono::milliseconds timeout) override {
        call("reset", timeout, [](Connection& c) {
            return c.device_cap.resetRequest().send().ignoreResult().then([] { return uint64_t{0}; });
        });
    }

    void shutdown(std::chrono::milliseconds timeout) override {
        call("shutdown", timeout, [](Connection& c) {
            return c.device_cap.shutdownRequest().send().ignoreResult().then([] { return uint64_t{0}; });
        });
        // The device exits after answering; hang up so it sees the end at once.
        disconnect();
    }

    uint64_t read(uint64_t offset, uint8_t size, std::chrono::milliseconds timeout) override {
        check_size("read", size);
        return call("read", timeout, [offset, size](Connection& c) {
            auto request = c.device_cap.readRequest();
            request.setOffset(offset);
            request.setSize(size);
            return request.send().then([size](capnp::Response<schema::Device::ReadResults>&& reply) {
                return mask_to_size(reply.getData(), size);
            });
        });
    }

    void write(uint64_t offset, uint8_t size, uint64_t data, std::chrono::milliseconds timeout) override {
        check_size("write", size);
        call("write", timeout, [offset, size, data](Connection& c) {
            auto request = c.device_cap.writeRequest();
            request.setOffset(offset);
            request.setSize(size);
            request.setData(mask_to_size(data, size));
            return request.send().ignoreResult().then([] { return uint64_t{0}; });
        });
    }

    void host_connection(uint32_t guest_port, uint32_t host_port, int fd, std::chrono::milliseconds timeout) override {
        base::UniqueFd dup;
        if (fd >= 0) {
            dup.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
            if (!dup)
                throw DeviceControlError(device_ + ": hostConnection: " + base::errno_message("cannot duplicate fd"));
        }
        call("hostConnection", timeout, [guest_port, host_port, &dup](Connection& c) {
            auto request = c.device_cap.hostConnectionRequest();
            request.setGuestPort(guest_port);
            request.setHostPort(host_port);
            if (dup) request.setFd(kj::heap<FdCapability>(std::move(dup)));
            return request.send().ignoreResult().then([] { return uint64_t{0}; });
        });
    }

private:
    void check_size(const char* what, uint8_t size) const {
        if (!valid_size(size))
            throw DeviceControlError(device_ + ": " + what + ": access size " + std::to_string(size) +
                                     " is not 1, 2, 4 or 8");
    }

    // Runs make(connection) on the IPC thread and blocks until its reply, a failure or
    // the deadline, whichever comes first.
    template <typename MakeRequest>
    uint64_t call(const char* what, std::chrono::milliseconds timeout, MakeRequest&& make) {
        Outcome outcome;
        try {
            outcome = executor_->executeSync([&]() -> kj::Promise<Outcome> {
                Connection* connection = ipc_->find(id_);
                if (!connection) return Outcome{};
                auto reply = kj::evalNow([&] { return make(*connection); })
                                 .then(
                                     [](uint64_t value) {
                                         return Outcome{Outcome::Kind::Ok, value, {}};
                                     },
                                     [](kj::Exception&& e) {
                                         if (e.getType() == kj::Exception::Type::DISCONNECTED) return Outcome{};
                                         return Outcome{Outcome::Kind::Failed, 0, e.getDescription().cStr()};
                                     });
                auto deadline = ipc_->io->provider->getTimer()
                                    .afterDelay(static_cast<int64_t>(timeout.count()) * kj::MILLISECONDS)
                                    .then([] {
                                        return Outcome{Outcome::Kind::TimedOut, 0, {}};
                                    });
                return reply.exclusiveJoin(kj::mv(deadline));
            });
        } catch (const kj::Exception&) {
            outcome = Outcome{};  // the IPC thread is gone
        }
        const std::string prefix = device_ + ": " + what + ": ";
        switch (outcome.kind) {
            case Outcome::Kind::Ok:
                return outcome.value;
            case Outcome::Kind::TimedOut:
                throw DeviceControlError(prefix + "timed out after " + std::to_string(timeout.count()) + " ms");
            case Outcome::Kind::Lost:
                throw DeviceControlError(prefix + "connection lost");
            case Outcome::Kind::Failed:
                throw DeviceControlError(prefix + "failed: " + sanitize_report(outcome.detail));
        }
        throw DeviceControlError(prefix + "connection lost");
    }

    void disconnect() {
        try {
            executor_->executeSync([this] { ipc_->connections.erase(id_); });
        } catch (const kj::Exception&) {
            // The IPC thread has already dropped every connection.
        }
    }

    std::string device_;
    kj::Own<const kj::Executor> executor_;
    std::shared_ptr<IpcLoop> ipc_;
    uint64_t id_;
};

}  // namespace

IpcThread::IpcThread() : impl_(std::make_unique<Impl>()) {
    std::promise<void> ready;
    auto started = ready.get_future();
    impl_->thread = std::thread([loop = impl_->loop, &ready] { loop->run(ready); });
    started.get();
}

IpcThread::~IpcThread() {
    try {
        auto& loop = *impl_->loop;
        loop.executor->executeSync([&loop] { loop.stop->fulfill(); });
    } catch (const kj::Exception&) {}
    impl_->thread.join();
}

std::shared_ptr<DeviceControl> IpcThread::connect(const std::string& device, base::UniqueFd socket,
                                                  ErrorReportHandler on_report, FaultHandler on_fault,
                                                  HostConnectHandler on_connect_host) {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(socket.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
        throw DeviceControlError(device + ": the control socket must be a SOCK_STREAM unix socket");
    uint64_t id = 0;
    std::string error;
    auto& loop = *impl_->loop;
    loop.executor->executeSync([&] {
        try {
            auto connection =
                kj::heap<Connection>(*loop.io->lowLevelProvider, device, std::move(socket), std::move(on_report),
                                     std::move(on_fault), std::move(on_connect_host));
            id = loop.next_id++;
            loop.connections.emplace(id, kj::mv(connection));
        } catch (const kj::Exception& e) {
            error = e.getDescription().cStr();
        }
    });
    if (!error.empty()) throw DeviceControlError(device + ": connect: " + error);
    return std::make_shared<ControlClient>(device, loop.executor->addRef(), impl_->loop, id);
}

void IpcThread::run_on_thread(const std::function<void()>& fn) {
    std::exception_ptr failure;
    impl_->loop->executor->executeSync([&] {
        try {
            fn();
        } catch (...) {
            failure = std::current_exception();
        }
    });
    if (failure) std::rethrow_exception(failure);
}

}  // namespace brig::ipc
