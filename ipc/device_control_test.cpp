#include "ipc/device_control.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "ipc/device_service.h"

using namespace brig;
using namespace brig::ipc;
using namespace std::chrono_literals;

namespace {

constexpr auto kTimeout = 2000ms;
constexpr uint64_t kReportOffset = 0x99;

std::pair<base::UniqueFd, base::UniqueFd> socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    return {base::UniqueFd(fds[0]), base::UniqueFd(fds[1])};
}

// Records what the VMM asked; on activation writes through the fds it was given.
class TestService : public DeviceService {
public:
    void activate(std::map<std::string, base::UniqueFd> resources) override {
        for (auto& [name, fd] : resources) names += name + ",";
        if (auto it = resources.find("output"); it != resources.end())
            if (::write(it->second.get(), "hello", 5) != 5) throw std::runtime_error("write failed");
        if (auto it = resources.find("irq"); it != resources.end()) {
            const uint64_t one = 1;
            if (::write(it->second.get(), &one, 8) != 8) throw std::runtime_error("eventfd write failed");
        }
    }
    void pause() override { ++pauses; }
    void resume() override { ++resumes; }
    void reset() override { ++resets; }
    void shutdown() override { ++shutdowns; }
    uint64_t read(uint64_t offset, uint8_t) override {
        if (offset == 0xbad) throw std::runtime_error("no register at 0xbad");
        return 0x1122334455667788ull + offset;
    }
    void write(uint64_t offset, uint8_t size, uint64_t data) override {
        if (offset == kReportOffset && report) report("bad\nthing\x01 " + std::string(500, 'x'));
        last_write = {offset, size, data};
    }

    std::string names;
    int pauses = 0, resumes = 0, resets = 0, shutdowns = 0;
    std::tuple<uint64_t, uint8_t, uint64_t> last_write{};
    std::function<void(const std::string&)> report;
};

// A device served on its own thread, as a device process's main thread would.
struct DeviceThread {
    explicit DeviceThread(base::UniqueFd socket) {
        thread = std::thread([this, fd = std::move(socket)]() mutable {
            serve_device(std::move(fd), service, {},
                         [this](std::function<void(const std::string&)> r) { service.report = std::move(r); });
            returned = true;
        });
    }
    ~DeviceThread() {
        if (thread.joinable()) thread.join();
    }
    TestService service;
    std::thread thread;
    std::atomic<bool> returned{false};
};

}  // namespace

TEST_CASE("control path round trips: activate with fds, pause, resume, read, write, shutdown", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    DeviceThread device(std::move(device_end));
    IpcThread ipc;
    auto control = ipc.connect("test-dev", std::move(vmm_end), {});

    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    base::UniqueFd pipe_read(pipe_fds[0]), pipe_write(pipe_fds[1]);
    base::UniqueFd irq(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    control->activate({{"output", pipe_write.get()}, {"irq", irq.get()}}, kTimeout);
    char buf[8] = {};
    REQUIRE(::read(pipe_read.get(), buf, sizeof buf) == 5);
    CHECK(std::string(buf, 5) == "hello");
    uint64_t count = 0;
    REQUIRE(::read(irq.get(), &count, 8) == 8);
    CHECK(count == 1);
    CHECK(device.service.names == "irq,output,");

    control->pause(kTimeout);
    control->resume(kTimeout);
    control->pause(kTimeout);
    CHECK(device.service.pauses == 2);
    CHECK(device.service.resumes == 1);
    control->reset(kTimeout);
    CHECK(device.service.resets == 1);

    CHECK(control->read(0x10, 8, kTimeout) == 0x1122334455667798ull);
    CHECK(control->read(0x10, 2, kTimeout) == 0x7798);
    CHECK(control->read(0x10, 1, kTimeout) == 0x98);
    CHECK_THROWS_AS(control->read(0x10, 3, kTimeout), DeviceControlError);
    CHECK_THROWS_WITH(control->read(0xbad, 4, kTimeout), Catch::Contains("test-dev: read: failed:"));
    control->write(0x20, 4, 0xffffffffdeadbeefull, kTimeout);
    CHECK(device.service.last_write == std::tuple<uint64_t, uint8_t, uint64_t>{0x20, 4, 0xdeadbeef});

    control->shutdown(kTimeout);
    device.thread.join();
    CHECK(device.returned);
    CHECK(device.service.shutdowns == 1);
    CHECK_THROWS_WITH(control->pause(kTimeout), Catch::Contains("connection lost"));
}

TEST_CASE("control path: a device error report reaches the handler, sanitised", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    DeviceThread device(std::move(device_end));
    IpcThread ipc;
    std::mutex mutex;
    std::condition_variable cv;
    std::string got_device, got_message;
    auto control = ipc.connect("uart", std::move(vmm_end), [&](const std::string& dev, const std::string& msg) {
        std::lock_guard lock(mutex);
        got_device = dev;
        got_message = msg;
        cv.notify_all();
    });
    control->write(kReportOffset, 1, 0, kTimeout);
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 2s, [&] { return !got_message.empty(); }));
    CHECK(got_device == "uart");
    CHECK(got_message.rfind("bad?thing? xxx", 0) == 0);
    CHECK(got_message.size() <= 203);
    CHECK(got_message.find('\n') == std::string::npos);
    lock.unlock();
    control->shutdown(kTimeout);
}

TEST_CASE("control path: a device that never answers times out", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();  // nobody serves device_end
    IpcThread ipc;
    auto control = ipc.connect("mute", std::move(vmm_end), {});
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(control->pause(150ms), "mute: pause: timed out after 150 ms");
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 150ms);
    CHECK(took < 1000ms);
}

TEST_CASE("control path: a device that closes its socket is a lost connection, at once", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    IpcThread ipc;
    auto control = ipc.connect("gone", std::move(vmm_end), {});
    device_end.reset();
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(control->read(0, 4, 5000ms), "gone: read: connection lost");
    CHECK(std::chrono::steady_clock::now() - start < 1000ms);
}

// Found by the control_vmm fuzz target: after a protocol fault brig stopped reading,
// and a command waiting for that device sat until its deadline.
TEST_CASE("control path: a device that breaks the protocol is a fault and a lost connection, at once", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    IpcThread ipc;
    std::atomic<int> faults{0};
    auto control = ipc.connect("liar", std::move(vmm_end), {}, [&](const std::string&, const ControlFault& fault) {
        if (fault.kind == ControlFault::Kind::Protocol) ++faults;
    });
    // A frame header claiming one segment of 2^31 words; the socket stays open.
    const uint32_t header[2] = {0, 0x80000000u};
    REQUIRE(::write(device_end.get(), header, sizeof header) == sizeof header);
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(control->read(0, 4, 5000ms), "liar: read: connection lost");
    CHECK(std::chrono::steady_clock::now() - start < 1000ms);
    CHECK(faults == 1);
}

TEST_CASE("control path refuses a datagram or seqpacket socket", "[ipc]") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    base::UniqueFd other(fds[1]);
    IpcThread ipc;
    CHECK_THROWS_AS(ipc.connect("seq", base::UniqueFd(fds[0]), {}), DeviceControlError);
}

TEST_CASE("control path across processes: fds reach a forked device", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    base::UniqueFd pipe_read(pipe_fds[0]), pipe_write(pipe_fds[1]);
    // Fork before the IPC thread exists, as brig forks its devices before it starts threads.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        vmm_end.reset();
        pipe_read.reset();
        int status = 0;
        try {
            TestService service;
            serve_device(std::move(device_end), service, {});
            status = service.shutdowns == 1 ? 0 : 4;
        } catch (...) {
            status = 3;
        }
        ::_exit(status);
    }
    device_end.reset();
    {
        IpcThread ipc;
        auto control = ipc.connect("child", std::move(vmm_end), {});
        control->activate({{"output", pipe_write.get()}}, kTimeout);
        pipe_write.reset();  // only the child's copy is left
        char buf[8] = {};
        REQUIRE(::read(pipe_read.get(), buf, sizeof buf) == 5);
        CHECK(std::string(buf, 5) == "hello");
        CHECK(control->read(1, 4, kTimeout) == 0x55667789);
        control->shutdown(kTimeout);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("device side refuses too many or badly named resources", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    DeviceThread device(std::move(device_end));
    IpcThread ipc;
    auto control = ipc.connect("picky", std::move(vmm_end), {});
    base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
    std::vector<NamedFd> many;
    for (int i = 0; i < 17; ++i) many.push_back({"r" + std::to_string(i), fd.get()});
    CHECK_THROWS_WITH(control->activate(many, kTimeout), Catch::Contains("picky: activate: failed"));
    CHECK_THROWS_WITH(control->activate({{std::string(33, 'n'), fd.get()}}, kTimeout), Catch::Contains("failed"));
    CHECK_THROWS_WITH(control->activate({{"a", fd.get()}, {"a", fd.get()}}, kTimeout), Catch::Contains("failed"));
    CHECK(device.service.names.empty());
    control->shutdown(kTimeout);
}

TEST_CASE("a device served over the control path can watch extra fds", "[ipc]") {
    auto [vmm_end, device_end] = socket_pair();
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0);
    base::UniqueFd input_read(pipe_fds[0]), input_write(pipe_fds[1]);
    TestService service;
    std::string received;
    std::thread device([&, fd = std::move(device_end)]() mutable {
        serve_device(std::move(fd), service, {{input_read.get(), [&] {
                                                   char c;  // one byte per callback: the rest must still be delivered
                                                   if (::read(input_read.get(), &c, 1) == 1) received.push_back(c);
                                               }}});
    });
    IpcThread ipc;
    auto control = ipc.connect("console", std::move(vmm_end), {});
    REQUIRE(::write(input_write.get(), "abc", 3) == 3);
    // The pause reply is queued behind the callbacks on the device's one thread, so a
    // few round trips later the input has been seen.
    for (int i = 0; i < 100 && received.size() < 3; ++i) {
        control->pause(kTimeout);
        std::this_thread::sleep_for(1ms);
    }
    control->shutdown(kTimeout);
    device.join();
    CHECK(received == "abc");
}
