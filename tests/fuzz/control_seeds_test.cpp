// Writes the control-path targets' seeds from a real exchange: brig's IPC thread and
// a device's serve loop talk through a relay that records each direction. For every
// command, control_vmm gets the command's number and what the device sent, and
// control_device gets the virtio-rng kind's number and what brig sent. Hidden: run by
// tests/fuzz/make_seeds.py, which commits the result.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "ipc/device_control.h"
#include "ipc/device_kind.h"
#include "ipc/device_service.h"

using namespace brig;
using namespace std::chrono_literals;
using base::UniqueFd;

namespace {

std::pair<UniqueFd, UniqueFd> stream_pair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

class AnsweringService final : public ipc::DeviceService {
public:
    void activate(std::map<std::string, UniqueFd>) override {}
    void reset() override {}
    uint64_t read(uint64_t offset, uint8_t) override { return 0x1122334455667788ull + offset; }
};

// Copies bytes both ways until both sides have hung up, keeping what each side sent.
// It runs on a thread of its own, so it asserts nothing (Catch's assertions are not
// thread-safe); the test checks what it kept.
struct Relay {
    std::vector<uint8_t> from_vmm, from_device;
    void run(int vmm_side, int device_side) {
        bool vmm_open = true, device_open = true;
        while (vmm_open || device_open) {
            pollfd p[2] = {{vmm_open ? vmm_side : -1, POLLIN, 0}, {device_open ? device_side : -1, POLLIN, 0}};
            if (::poll(p, 2, 2000) <= 0) return;
            uint8_t buf[65536];
            for (int i = 0; i < 2; ++i) {
                if (!p[i].revents) continue;
                const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
                const int to = i == 0 ? device_side : vmm_side;
                if (n <= 0) {
                    ::shutdown(to, SHUT_WR);
                    (i == 0 ? vmm_open : device_open) = false;
                    continue;
                }
                auto& log = i == 0 ? from_vmm : from_device;
                log.insert(log.end(), buf, buf + n);
                // The other side may have hung up already; what it missed is not part of the exchange.
                [[maybe_unused]] const ssize_t sent = ::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
            }
        }
    }
};

void write_seed(const std::string& target, const std::string& name, uint8_t first, const std::vector<uint8_t>& bytes) {
    const char* root = std::getenv("BRIG_FUZZ_SEED_DIR");
    const std::filesystem::path dir =
        std::filesystem::path(root ? root : BRIG_SOURCE_ROOT "/tests/fuzz/corpus") / target;
    std::filesystem::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary);
    out.put(static_cast<char>(first));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("write the control-path fuzz seeds from a recorded exchange", "[.make-control-seeds]") {
    // control_vmm_fuzz.cpp's command numbers.
    const std::vector<std::pair<std::string, std::function<void(ipc::DeviceControl&)>>> commands = {
        {"activate",
         [](auto& c) {
             c.activate({}, {{"mac", "52:54:00:00:00:01"}}, 2000ms);
         }},
        {"pause", [](auto& c) { c.pause(2000ms); }},
        {"resume", [](auto& c) { c.resume(2000ms); }},
        {"shutdown", [](auto& c) { c.shutdown(2000ms); }},
        {"reset", [](auto& c) { c.reset(2000ms); }},
        {"read", [](auto& c) { c.read(0x10, 4, 2000ms); }},
        {"write", [](auto& c) { c.write(0x10, 4, 0x1234, 2000ms); }},
        {"host-connection", [](auto& c) { c.host_connection(1234, 5678, -1, 2000ms); }},
    };
    const auto kinds = std::span(ipc::kinds::kAll);
    const uint8_t rng_kind =
        static_cast<uint8_t>(std::find(kinds.begin(), kinds.end(), &ipc::kinds::kVirtioRng) - kinds.begin());
    ipc::IpcThread ipc;
    for (size_t i = 0; i < commands.size(); ++i) {
        auto [vmm_end, relay_vmm] = stream_pair();
        auto [relay_device, device_end] = stream_pair();
        Relay relay;
        std::thread relay_thread([&] { relay.run(relay_vmm.get(), relay_device.get()); });
        AnsweringService service;
        std::thread device(
            [&, fd = std::move(device_end)]() mutable { ipc::serve_device(std::move(fd), service, {}); });
        {
            auto control = ipc.connect("seed-device", std::move(vmm_end), [](auto&, auto&) {});
            commands[i].second(*control);
        }
        ipc.run_on_thread([] {});
        device.join();
        relay_thread.join();
        CHECK(!relay.from_device.empty());
        write_seed("control_vmm", commands[i].first, static_cast<uint8_t>(i), relay.from_device);
        write_seed("control_device", commands[i].first, rng_kind, relay.from_vmm);
    }
}
