// The vsock broker against real unix sockets in a temporary directory, with the
// device's end recorded by a fake.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "vmm/error.h"
#include "vmm/vsock/vsock_broker.h"

namespace fs = std::filesystem;
using brig::vsock::Broker;

namespace {

struct TempDir {
    TempDir() {
        char pattern[] = "/tmp/brig-vsock-test.XXXXXX";
        REQUIRE(::mkdtemp(pattern) != nullptr);
        path = pattern;
    }
    ~TempDir() { fs::remove_all(path); }
    fs::path path;
};

base::UniqueFd connect_to(const fs::path& path) {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
    return fd;
}

base::UniqueFd listen_plain(const fs::path& path) {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd.get(), 8) == 0);
    return fd;
}

// What the device was handed: each call, with a duplicate of the fd.
struct FakeDevice {
    struct Call {
        uint32_t guest_port, host_port;
        base::UniqueFd fd;
    };
    std::mutex mutex;
    std::vector<Call> calls;

    Broker::ToDevice to_device() {
        return [this](uint32_t guest_port, uint32_t host_port, int fd) {
            std::lock_guard lock(mutex);
            calls.push_back({guest_port, host_port, base::UniqueFd(fd >= 0 ? ::dup(fd) : -1)});
        };
    }
    // Waits for `n` calls (or 5 s).
    bool wait_for(size_t n) {
        for (int i = 0; i < 500; ++i) {
            {
                std::lock_guard lock(mutex);
                if (calls.size() >= n) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
};

size_t open_fds() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

}  // namespace

TEST_CASE("vsock broker: the CONNECT line", "[vsock]") {
    using brig::vsock::parse_connect_line;
    CHECK(parse_connect_line("CONNECT 52") == 52u);
    CHECK(parse_connect_line("CONNECT 4294967295") == 4294967295u);
    CHECK_FALSE(parse_connect_line("CONNECT 4294967296"));
    CHECK_FALSE(parse_connect_line("CONNECT "));
    CHECK_FALSE(parse_connect_line("CONNECT 5 "));
    CHECK_FALSE(parse_connect_line("connect 5"));
    CHECK_FALSE(parse_connect_line("CONNECT -5"));
    CHECK(brig::vsock::host_port_path("/run/vm.sock", 52) == "/run/vm.sock_52");
}

TEST_CASE("vsock broker: a stale socket is replaced, a live listener and other files refused", "[vsock]") {
    TempDir dir;
    const fs::path path = dir.path / "vm.sock";
    {
        base::UniqueFd first = brig::vsock::listen_on(path);  // closed: leaves a stale socket file
    }
    REQUIRE(fs::is_socket(path));
    base::UniqueFd second = brig::vsock::listen_on(path);
    CHECK(second.valid());
    CHECK_THROWS_WITH(brig::vsock::listen_on(path), Catch::Contains("in use"));

    const fs::path file = dir.path / "file";
    { std::ofstream(file) << "x"; }
    CHECK_THROWS_WITH(brig::vsock::listen_on(file), Catch::Contains("not a socket"));
    CHECK(fs::exists(file));  // never removed
    CHECK_THROWS_AS(brig::vsock::listen_on(dir.path / "missing" / "vm.sock"), brig::InvalidArgument);
    CHECK_THROWS_WITH(brig::vsock::listen_on(dir.path / std::string(120, 'x')), Catch::Contains("longer than"));
}

TEST_CASE("vsock broker: a host CONNECT reaches the device with the bytes after the line", "[vsock]") {
    TempDir dir;
    const fs::path path = dir.path / "vm.sock";
    FakeDevice device;
    Broker broker({path, brig::vsock::listen_on(path), std::nullopt, {}, {}});
    broker.start(device.to_device());

    base::UniqueFd host = connect_to(path);
    REQUIRE(host.valid());
    const std::string sent = "CONNECT 52\nearly bytes";
    REQUIRE(::write(host.get(), sent.data(), sent.size()) == static_cast<ssize_t>(sent.size()));
    REQUIRE(device.wait_for(1));
    std::lock_guard lock(device.mutex);
    CHECK(device.calls[0].guest_port == 52);
    CHECK(device.calls[0].host_port == 0);
    REQUIRE(device.calls[0].fd.valid());
    char buf[32] = {};
    pollfd p{device.calls[0].fd.get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 1000) == 1);
    const ssize_t n = ::recv(device.calls[0].fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "early bytes");
}

TEST_CASE("vsock broker: garbage and silence are closed without reaching the device", "[vsock]") {
    TempDir dir;
    const fs::path path = dir.path / "vm.sock";
    FakeDevice device;
    Broker broker({path, brig::vsock::listen_on(path), std::nullopt, {}, {}});
    broker.start(device.to_device());
    base::UniqueFd garbage = connect_to(path);
    REQUIRE(::write(garbage.get(), "HELLO 5\n", 8) == 8);
    base::UniqueFd too_long = connect_to(path);
    const std::string long_line(64, 'C');
    REQUIRE(::write(too_long.get(), long_line.data(), long_line.size()) == 64);
    base::UniqueFd half = connect_to(path);
    REQUIRE(::write(half.get(), "CONN", 4) == 4);
    ::shutdown(half.get(), SHUT_WR);
    for (int fd : {garbage.get(), too_long.get(), half.get()}) {
        pollfd p{fd, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 3000) == 1);
        char c;
        const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
        CHECK((n == 0 || (n < 0 && errno == ECONNRESET)));  // brig hung up (on unread bytes: a reset)
    }
    std::lock_guard lock(device.mutex);
    CHECK(device.calls.empty());
}

TEST_CASE("vsock broker: the guest reaches PATH_port, or learns nothing listens", "[vsock]") {
    TempDir dir;
    const fs::path path = dir.path / "vm.sock";
    base::UniqueFd listener = listen_plain(brig::vsock::host_port_path(path, 5000));
    FakeDevice device;
    Broker broker({path, brig::vsock::listen_on(path), std::nullopt, {}, {}});
    broker.start(device.to_device());
    REQUIRE(broker.connect_host(1234, 5000));
    REQUIRE(broker.connect_host(1235, 5999));
    REQUIRE(device.wait_for(2));
    std::lock_guard lock(device.mutex);
    CHECK(device.calls[0].guest_port == 1234);
    CHECK(device.calls[0].host_port == 5000);
    REQUIRE(device.calls[0].fd.valid());
    base::UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(accepted.valid());
    REQUIRE(::write(device.calls[0].fd.get(), "ping", 4) == 4);
    char buf[4];
    CHECK(::read(accepted.get(), buf, 4) == 4);
    CHECK(device.calls[1].host_port == 5999);
    CHECK_FALSE(device.calls[1].fd.valid());
}

TEST_CASE("vsock broker: the ready port is answered by brig itself, once reported", "[vsock]") {
    TempDir dir;
    const fs::path path = dir.path / "vm.sock";
    FakeDevice device;
    std::atomic<int> ready{0};
    Broker broker({path, brig::vsock::listen_on(path), 7000u, [&] { ++ready; }, {}});
    broker.start(device.to_device());
    REQUIRE(broker.connect_host(1, 7000));
    REQUIRE(broker.connect_host(2, 7000));
    REQUIRE(device.wait_for(2));
    CHECK(ready == 1);
    std::lock_guard lock(device.mutex);
    CHECK(device.calls[0].fd.valid());
    CHECK(device.calls[1].fd.valid());
    CHECK_FALSE(fs::exists(brig::vsock::host_port_path(path, 7000)));
}

TEST_CASE("vsock broker: a flood of silent host connections holds a bounded number of fds", "[vsock]") {
    TempDir dir;
    const fs::path path = dir.path / "vm.sock";
    FakeDevice device;
    Broker broker({path, brig::vsock::listen_on(path), std::nullopt, {}, {}});
    broker.start(device.to_device());
    const size_t before = open_fds();
    std::vector<base::UniqueFd> clients;
    for (int i = 0; i < 300; ++i) {
        base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path.c_str());
        ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);  // past the backlog: refused
        clients.push_back(std::move(fd));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(broker.held_fds() <= 2 + brig::vsock::kMaxHandshakes);
    // This process holds the 300 clients; the broker's share is what is left.
    CHECK(open_fds() - before - clients.size() <= brig::vsock::kMaxHandshakes);
    broker.stop();
    CHECK(broker.held_fds() <= 2 + brig::vsock::kMaxHandshakes);
}
