// The host side of --vsock, in brig's main process: every host path the jailed
// virtio-vsock device needs is opened here, so the device never calls socket(),
// connect() or open() (policies/virtio_vsock_device.policy). Firecracker's hybrid
// vsock protocol:
// - host -> guest: brig listens on PATH. A host program connects, writes
//   "CONNECT <port>\n", and brig hands the connected socket to the device, which
//   writes "OK <host port>\n" once the guest accepts (or closes it).
// - guest -> host: the guest connects to CID 2, port P; the device asks brig
//   (Supervisor.connectHost), brig connects PATH_P and hands the socket over, or
//   answers "nothing listens" and the guest gets RST.
// - --ready-port P: brig itself takes the guest's connection to port P as the
//   guest's "ready" (Android's boot-hangup detection), with no socket on the host.
//
// It runs on a thread of its own ("brig-vsock") under policies/brig_vsock.policy, and
// it is bounded: at most kMaxHandshakes host connections wait for their CONNECT
// line (each for kHandshakeTimeout), at most kHostConnectsPerSecond are accepted per
// second (the rest wait in the listen backlog), and a guest's connects are served at
// the rate the device asks for them (device_contract::kHostConnectsPerSecond). brig
// holds an fd of a connection only until the device has its own copy: a guest or a
// host that opens thousands cannot run brig out of fds.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"

namespace brig::vsock {

constexpr size_t kMaxHandshakes = 32;
constexpr std::chrono::seconds kHandshakeTimeout(5);
constexpr size_t kMaxQueuedConnects = 1024;  // past the device's rate, a hostile device's
constexpr int kListenBacklog = 64;
// PATH_<port> must fit in sun_path with the longest port.
constexpr size_t kMaxSocketPath = 108 - 1 - sizeof("_4294967295") + 1;

// Checks and binds PATH: a live listener there is refused, a stale socket file is
// replaced, anything else that exists is refused; the directory must take a socket.
// Throws InvalidArgument (exit 35) naming --vsock.
base::UniqueFd listen_on(const std::filesystem::path& path);

// The host-side port of a guest connection's socket path: PATH_<port>.
std::filesystem::path host_port_path(const std::filesystem::path& path, uint32_t port);

// "CONNECT <port>\n" -> the port; nullopt for anything else (the line without its \n).
std::optional<uint32_t> parse_connect_line(std::string_view line);

class Broker {
public:
    // Hands a connected socket to the device (borrowed fd, -1: nothing listens); may
    // block for the RPC round trip, throws when the device is gone.
    using ToDevice = std::function<void(uint32_t guest_port, uint32_t host_port, int fd)>;

    struct Config {
        std::filesystem::path socket_path;
        base::UniqueFd listener;             // from listen_on()
        std::optional<uint32_t> ready_port;  // --ready-port
        std::function<void()> on_ready;      // the guest connected to it (first time only)
        // Runs first on the broker's thread (its seccomp filter).
        std::function<void()> on_thread_start;
    };

    explicit Broker(Config config);
    ~Broker();  // stop(); the socket file is left, stale, for the next run to replace
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // Starts the thread; returns once on_thread_start() has run there.
    void start(ToDevice to_device);
    // The guest connects from guest_port to host_port: queued for the thread. Callable
    // from any thread, never blocks; false when the queue is full.
    bool connect_host(uint32_t guest_port, uint32_t host_port);
    void stop();

    // How many fds the broker holds now (listener, wake, handshakes): for tests.
    size_t held_fds() const;

private:
    struct Handshake {
        base::UniqueFd fd;
        std::chrono::steady_clock::time_point deadline;
    };
    struct ConnectRequest {
        uint32_t guest_port;
        uint32_t host_port;
    };
    void run();
    void accept_some();
    // The socket's line: false while it is still incomplete (wait for more).
    bool serve_handshake(Handshake& handshake, short revents);
    void serve_connect(const ConnectRequest& request);

    Config config_;
    ToDevice to_device_;
    base::UniqueFd wake_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::deque<ConnectRequest> requests_;  // guarded by mutex_
    bool stopping_ = false;                // guarded by mutex_
    bool ready_seen_ = false;
    std::vector<Handshake> handshakes_;  // the thread's
    std::chrono::steady_clock::time_point accept_window_{};
    unsigned accepted_in_window_ = 0;
};

}  // namespace brig::vsock
