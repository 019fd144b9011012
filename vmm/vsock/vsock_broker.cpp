#include "vmm/vsock/vsock_broker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <future>
#include <spdlog/spdlog.h>

#include "base/error.h"
#include "base/eventfd.h"
#include "ipc/device_contract.h"
#include "ipc/poll_set.h"
#include "vmm/error.h"
#include "vmm/unix_listener.h"

namespace brig::vsock {
namespace {

using Clock = std::chrono::steady_clock;

// "CONNECT 4294967295\n" and a little room; a longer line is not the protocol.
constexpr size_t kMaxLine = 32;

}  // namespace

base::UniqueFd listen_on(const std::filesystem::path& path) {
    const std::string flag = "--vsock: socket=" + path.string();
    if (path.native().size() > kMaxSocketPath)
        throw InvalidArgument(flag + ": longer than " + std::to_string(kMaxSocketPath) +
                              " bytes (PATH_<port> must fit a unix socket address)");
    return listen_unix(path, flag, kListenBacklog);
}

std::filesystem::path host_port_path(const std::filesystem::path& path, uint32_t port) {
    return path.native() + "_" + std::to_string(port);
}

std::optional<uint32_t> parse_connect_line(std::string_view line) {
    constexpr std::string_view kPrefix = "CONNECT ";
    if (!line.starts_with(kPrefix)) return std::nullopt;
    line.remove_prefix(kPrefix.size());
    uint32_t port = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), port);
    if (line.empty() || ec != std::errc() || ptr != line.data() + line.size()) return std::nullopt;
    return port;
}

Broker::Broker(Config config) : config_(std::move(config)), wake_(base::make_eventfd("vsock broker wake")) {}

// The socket file stays: brig's filters allow no unlink() once the guest runs, and a
// stale socket is what the next brig on that path replaces (listen_on()).
Broker::~Broker() { stop(); }

void Broker::start(ToDevice to_device) {
    to_device_ = std::move(to_device);
    std::promise<void> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, &started] {
        pthread_setname_np(pthread_self(), "brig-vsock");
        try {
            if (config_.on_thread_start) config_.on_thread_start();
        } catch (...) {
            started.set_exception(std::current_exception());
            return;
        }
        started.set_value();
        run();
    });
    try {
        ready.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

bool Broker::connect_host(uint32_t guest_port, uint32_t host_port) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || requests_.size() >= kMaxQueuedConnects) return false;
        requests_.push_back({guest_port, host_port});
    }
    base::signal_eventfd(wake_.get());
    return true;
}

void Broker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    base::signal_eventfd(wake_.get());
    if (thread_.joinable()) thread_.join();
}

size_t Broker::held_fds() const {
    std::lock_guard lock(mutex_);
    return 2 + handshakes_.size();
}

namespace {
struct Waiting {
    enum Kind { Wake, Listener, Handshake } kind;
    size_t index = 0;
};
}  // namespace

void Broker::run() {
    ipc::PollSet<Waiting> waits;
    for (;;) {
        std::deque<ConnectRequest> requests;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            requests.swap(requests_);
        }
        for (const auto& request : requests) serve_connect(request);

        const auto now = Clock::now();
        {
            std::lock_guard lock(mutex_);  // held_fds() reads the list
            std::erase_if(handshakes_, [now](const Handshake& h) { return h.deadline <= now; });
        }
        if (now - accept_window_ >= std::chrono::seconds(1)) {
            accept_window_ = now;
            accepted_in_window_ = 0;
        }
        waits.clear();
        waits.add(wake_.get(), POLLIN, {Waiting::Wake});
        const bool may_accept =
            handshakes_.size() < kMaxHandshakes && accepted_in_window_ < ipc::device_contract::kHostConnectsPerSecond;
        if (may_accept) waits.add(config_.listener.get(), POLLIN, {Waiting::Listener});
        auto next = accept_window_ + std::chrono::seconds(1);
        for (size_t i = 0; i < handshakes_.size(); ++i) {
            waits.add(handshakes_[i].fd.get(), POLLIN | POLLRDHUP, {Waiting::Handshake, i});
            next = std::min(next, handshakes_[i].deadline);
        }
        const int timeout = static_cast<int>(std::clamp<int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1, 1, 1000));
        if (waits.wait(timeout) < 0) {
            if (errno == EINTR) continue;
            spdlog::error("[vsock] poll: {}", base::errno_text(errno));
            return;
        }
        std::vector<size_t> finished;
        for (const auto& [what, revents] : waits.ready()) {
            if (what.kind == Waiting::Wake) base::drain_eventfd(wake_.get());
            if (what.kind == Waiting::Listener) accept_some();
            if (what.kind == Waiting::Handshake && serve_handshake(handshakes_[what.index], revents))
                finished.push_back(what.index);
        }
        std::lock_guard lock(mutex_);
        std::sort(finished.rbegin(), finished.rend());
        for (size_t i : finished) handshakes_.erase(handshakes_.begin() + static_cast<std::ptrdiff_t>(i));
    }
}

void Broker::accept_some() {
    while (handshakes_.size() < kMaxHandshakes && accepted_in_window_ < ipc::device_contract::kHostConnectsPerSecond) {
        base::UniqueFd fd(::accept4(config_.listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!fd) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                spdlog::warn("[vsock] accept: {}", base::errno_text(errno));
            return;
        }
        ++accepted_in_window_;
        std::lock_guard lock(mutex_);
        handshakes_.push_back({std::move(fd), Clock::now() + kHandshakeTimeout});
    }
}

bool Broker::serve_handshake(Handshake& handshake, short revents) {
    // Peek first and take the line alone: bytes the host program sent after it belong
    // to the guest, and stay in the socket for the device.
    char line[kMaxLine];
    const ssize_t peeked = ::recv(handshake.fd.get(), line, sizeof line, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (peeked <= 0) return true;  // gone before it spoke
    const auto* end = std::find(line, line + peeked, '\n');
    if (end == line + peeked) {  // too long, or the program hung up mid-line: dropped; else wait for more
        return peeked == static_cast<ssize_t>(sizeof line) || (revents & (POLLHUP | POLLRDHUP | POLLERR));
    }
    const size_t length = static_cast<size_t>(end - line) + 1;
    if (::recv(handshake.fd.get(), line, length, MSG_DONTWAIT) != static_cast<ssize_t>(length)) return true;
    const auto port = parse_connect_line(std::string_view(line, length - 1));
    if (!port) return true;  // not the protocol: closed, as Firecracker does
    try {
        to_device_(*port, 0, handshake.fd.get());
    } catch (const std::exception& e) {
        spdlog::warn("[vsock] CONNECT {}: {}", *port, e.what());
    }
    return true;  // our copy closes; the device holds its own
}

void Broker::serve_connect(const ConnectRequest& request) {
    base::UniqueFd host;
    if (config_.ready_port && request.host_port == *config_.ready_port) {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
            spdlog::warn("[vsock] ready port: {}", base::errno_text(errno));
        } else {
            // brig's end closes at once: the guest sees its connection accepted, then
            // end-of-file. Being accepted is the whole message.
            base::UniqueFd ours(pair[0]);
            host.reset(pair[1]);
            if (!ready_seen_) {
                ready_seen_ = true;
                spdlog::info("[vsock] guest ready (connected to port {})", request.host_port);
                if (config_.on_ready) config_.on_ready();
            }
        }
    } else {
        host = unix_stream_socket();
        if (const int error = connect_unix(host.get(), host_port_path(config_.socket_path, request.host_port))) {
            spdlog::debug("[vsock] guest port {} -> host port {}: {}", request.guest_port, request.host_port,
                          base::errno_text(error));
            host.reset();  // nothing listens (or its backlog is full): the guest gets RST
        }
    }
    try {
        to_device_(request.guest_port, request.host_port, host ? host.get() : -1);
    } catch (const std::exception& e) {
        spdlog::warn("[vsock] guest port {} -> host port {}: {}", request.guest_port, request.host_port, e.what());
    }
}

}  // namespace brig::vsock
