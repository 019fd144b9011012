#include "vmm/control/control_server.h"

#include <pthread.h>

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/timer.h>
#include <spdlog/spdlog.h>

#include <future>
#include <map>

#include "base/error.h"
#include "base/eventfd.h"
#include "ipc/vm_control.capnp.h"
#include "vmm/unix_listener.h"

// GCC 12 sees a std::string inside kj's Maybe<Answer> as maybe-uninitialized (false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace brig::control {
namespace {

namespace schema = brig::ipc::control;
using Side = capnp::rpc::twoparty::Side;
using Clock = std::chrono::steady_clock;

constexpr int kBacklog = 16;
// How long an events call waits for one before it answers with none.
constexpr auto kEventsWait = 1 * kj::SECONDS;

capnp::ReaderOptions client_reader_options() {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 8 * 1024;  // 64 KiB: requests are a few words
    options.nestingLimit = 8;
    return options;
}

struct Answer {
    bool ok = false;
    std::string text;
};

}  // namespace

struct ControlServer::Impl {
    ControlServer& server;
    kj::AsyncIoContext* io = nullptr;
    kj::Own<const kj::Executor> executor;
    kj::Own<kj::PromiseFulfiller<void>> stop;

    struct Client {
        Client(kj::Own<kj::AsyncIoStream> s, capnp::Capability::Client bootstrap)
            : stream(kj::mv(s)),
              network(*stream, Side::SERVER, client_reader_options()),
              rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}
        kj::Own<kj::AsyncIoStream> stream;
        capnp::TwoPartyVatNetwork network;
        capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
        Clock::time_point last_call = Clock::now();
        unsigned in_flight = 0;
    };
    std::map<uint64_t, kj::Own<Client>> clients;
    uint64_t next_id = 1;

    explicit Impl(ControlServer& s) : server(s) {}
    kj::Promise<void> accept_loop(kj::ConnectionReceiver& listener);
    kj::Promise<void> sweep();
    void drop(uint64_t id) {
        // Later, not from inside the connection's own callbacks.
        io->provider->getTimer().afterDelay(0 * kj::SECONDS).then([this, id] { clients.erase(id); }).detach([](auto) {
        });
    }
};

namespace {

class ErrorsIgnored final : public kj::TaskSet::ErrorHandler {
public:
    void taskFailed(kj::Exception&&) override {}
};

// One client's view of the VM.
class VmControlServer final : public schema::VmControl::Server {
public:
    VmControlServer(ControlServer::Impl& impl, ControlServer& server, EventLog& events, uint64_t id)
        : impl_(impl), server_(server), events_(events), id_(id) {}

    kj::Promise<void> version(VersionContext context) override {
        touch();
        context.getResults().setVersion(schema::PROTOCOL_VERSION);
        return kj::READY_NOW;
    }
    kj::Promise<void> stop(StopContext) override { return ask(ControlRequest::Kind::Stop).ignoreResult(); }
    kj::Promise<void> suspend(SuspendContext) override { return ask(ControlRequest::Kind::Suspend).ignoreResult(); }
    kj::Promise<void> resume(ResumeContext) override { return ask(ControlRequest::Kind::Resume).ignoreResult(); }
    kj::Promise<void> powerButton(PowerButtonContext) override {
        return ask(ControlRequest::Kind::PowerButton).ignoreResult();
    }
    kj::Promise<void> status(StatusContext context) override {
        return ask(ControlRequest::Kind::Status).then([context](std::string json) mutable {
            context.getResults().setJson(json);
        });
    }

    kj::Promise<void> events(EventsContext context) override {
        touch();
        const uint64_t after = context.getParams().getAfter();
        auto slice = events_.after(after);
        if (!slice.lines.empty() || slice.ended) {
            fill(context, slice);
            return kj::READY_NOW;
        }
        auto next = kj::newPromiseAndCrossThreadFulfiller<void>();
        events_.on_next([f = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<void>>>(kj::mv(next.fulfiller))] {
            (*f)->fulfill();
        });
        begin();
        return next.promise.exclusiveJoin(impl_.io->provider->getTimer().afterDelay(kEventsWait))
            .then([this, context, after]() mutable {
                fill(context, events_.after(after));
                end();
            });
    }

private:
    static void fill(EventsContext& context, const EventLog::Slice& slice) {
        auto results = context.getResults();
        auto lines = results.initLines(static_cast<unsigned>(slice.lines.size()));
        for (unsigned i = 0; i < slice.lines.size(); ++i) lines.set(i, slice.lines[i]);
        results.setNext(slice.next);
        results.setEnded(slice.ended);
    }

    void touch() {
        auto it = impl_.clients.find(id_);
        if (it != impl_.clients.end()) it->second->last_call = Clock::now();
    }
    void begin() {
        auto it = impl_.clients.find(id_);
        if (it != impl_.clients.end()) ++it->second->in_flight;
    }
    void end() {
        touch();
        auto it = impl_.clients.find(id_);
        if (it != impl_.clients.end() && it->second->in_flight > 0) --it->second->in_flight;
    }

    // Posts the request to the supervisor and waits for its answer, within kAnswerTimeout.
    kj::Promise<std::string> ask(ControlRequest::Kind kind) {
        touch();
        auto pair = kj::newPromiseAndCrossThreadFulfiller<Answer>();
        auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<Answer>>>(kj::mv(pair.fulfiller));
        server_.post({kind,
                      [fulfiller](const std::string& result) {
                          (*fulfiller)->fulfill(Answer{true, result});
                      },
                      [fulfiller](const std::string& refusal) {
                          (*fulfiller)->fulfill(Answer{false, refusal});
                      }});
        begin();
        auto timeout = impl_.io->provider->getTimer().afterDelay(kAnswerTimeout.count() * kj::SECONDS).then([] {
            return Answer{false, "brig did not answer in time"};
        });
        return pair.promise.exclusiveJoin(kj::mv(timeout)).then([this](Answer answer) -> std::string {
            end();
            if (!answer.ok)
                kj::throwFatalException(
                    kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(answer.text.c_str())));
            return answer.text;
        });
    }

    ControlServer::Impl& impl_;
    ControlServer& server_;
    EventLog& events_;
    uint64_t id_;
};

ErrorsIgnored g_errors_ignored;

}  // namespace

kj::Promise<void> ControlServer::Impl::accept_loop(kj::ConnectionReceiver& listener) {
    return listener.accept().then([this, &listener](kj::Own<kj::AsyncIoStream> stream) {
        if (clients.size() >= kMaxClients) {
            spdlog::warn("[control] {} clients already: one more refused", kMaxClients);
        } else {
            const uint64_t id = next_id++;
            auto client = kj::heap<Client>(kj::mv(stream), schema::VmControl::Client(kj::heap<VmControlServer>(
                                                               *this, server, server.events_, id)));
            client->network.onDisconnect().then([this, id] { drop(id); }).detach([this, id](kj::Exception&&) {
                drop(id);
            });
            clients.emplace(id, kj::mv(client));
        }
        return accept_loop(listener);
    });
}

kj::Promise<void> ControlServer::Impl::sweep() {
    return io->provider->getTimer().afterDelay(1 * kj::SECONDS).then([this] {
        const auto now = Clock::now();
        for (auto it = clients.begin(); it != clients.end();) {
            if (it->second->in_flight == 0 && now - it->second->last_call > kIdleTimeout)
                it = clients.erase(it);  // connected, silent: dropped
            else
                ++it;
        }
        return sweep();
    });
}

ControlServer::ControlServer(const std::filesystem::path& path, EventLog& events)
    : listener_(listen_unix(path, "--socket: " + path.string(), kBacklog, 0600)),
      wake_(base::make_eventfd("control requests")),
      events_(events) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::post(ControlRequest request) {
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(std::move(request));
    }
    base::signal_eventfd(wake_.get());
}

std::vector<ControlRequest> ControlServer::take() {
    base::drain_eventfd(wake_.get());
    std::lock_guard lock(mutex_);
    return std::exchange(pending_, {});
}

void ControlServer::start(std::function<void()> on_thread_start) {
    impl_ = std::make_shared<Impl>(*this);
    std::promise<void> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, impl = impl_, &started, on_thread_start = std::move(on_thread_start)] {
        pthread_setname_np(pthread_self(), "brig-control");
        try {
            auto io = kj::setupAsyncIo();
            auto stopped = kj::newPromiseAndFulfiller<void>();
            impl->io = &io;
            impl->stop = kj::mv(stopped.fulfiller);
            impl->executor = kj::getCurrentThreadExecutor().addRef();
            auto listener = io.lowLevelProvider->wrapListenSocketFd(listener_.release(),
                                                                    kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
            // The event loop is set up: from here on the thread lives under its filter.
            if (on_thread_start) on_thread_start();
            kj::TaskSet tasks(g_errors_ignored);
            tasks.add(impl->accept_loop(*listener));
            tasks.add(impl->sweep());
            started.set_value();
            stopped.promise.wait(io.waitScope);
            impl->clients.clear();
            impl->io = nullptr;
        } catch (...) {
            try {
                started.set_exception(std::current_exception());
            } catch (const std::future_error&) {
                spdlog::error("[control] the control socket's thread failed");
            }
        }
    });
    try {
        ready.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

void ControlServer::finish() {
    if (!thread_.joinable()) return;
    const auto deadline = Clock::now() + kFinishWait;
    while (Clock::now() < deadline) {
        bool busy = false;
        try {
            impl_->executor->executeSync([impl = impl_, &busy] {
                for (const auto& [id, client] : impl->clients) busy |= client->in_flight > 0;
            });
        } catch (const kj::Exception&) {
            break;
        }
        if (!busy) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // A reply just handed to the socket is written in the loop's next turn.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop();
}

void ControlServer::stop() {
    if (!thread_.joinable()) return;
    try {
        impl_->executor->executeSync([impl = impl_] {
            if (impl->stop) impl->stop->fulfill();
        });
    } catch (const kj::Exception&) {
        // The thread is gone already.
    }
    thread_.join();
}

}  // namespace brig::control
