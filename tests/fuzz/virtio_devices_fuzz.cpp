// Target 2: each virtio device's request handling (blk, net, vsock, console, rng)
// behind the real transport, driven by a hostile driver (hostile_driver.h), with fake
// back ends: a memfd disk, a datagram socket pair in place of the TAP, socket pairs
// for the console and for vsock's host connections. The input's first byte picks the
// device; its further steps are the driver's and the host's (input arrives, a peer
// goes away), and what poll() then reports is handed to the device as its service's
// event thread would.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "base/unique_fd.h"
#include "device-procs/virtio/virtio_blk.h"
#include "device-procs/virtio/virtio_console.h"
#include "device-procs/virtio/virtio_net.h"
#include "device-procs/virtio/virtio_rng.h"
#include "device-procs/virtio/virtio_vsock.h"
#include "ipc/mac_address.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/hostile_driver.h"

using namespace brig;
using namespace brig::devices;
using namespace brig::fuzz;
using base::UniqueFd;

namespace {

constexpr uint64_t kDiskBytes = 64 << 10;

std::pair<UniqueFd, UniqueFd> socket_pair(int type) {
    int sv[2];
    if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

struct Rig {
    std::unique_ptr<HostedVirtioDevice> device;
    std::vector<UniqueFd> host_ends;  // the host's side of each back end
    bool connector_accepts = true;
};

Rig make_device(unsigned kind, FuzzInput& in) {
    Rig rig;
    switch (kind) {
        case 0: {
            // One disk for every input (a new memfd's pages faulted in each time): what one
            // input wrote, the next may read.
            static const UniqueFd shared_disk = [] {
                UniqueFd fd(::memfd_create("fuzz-disk", MFD_CLOEXEC));
                if (!fd || ::ftruncate(fd.get(), kDiskBytes) != 0) throw std::runtime_error("memfd");
                return fd;
            }();
            // Writable, or the same file opened O_RDONLY.
            UniqueFd disk(::open(("/proc/self/fd/" + std::to_string(shared_disk.get())).c_str(),
                                 (in.flag() ? O_RDONLY : O_RDWR) | O_CLOEXEC));
            if (!disk) throw std::runtime_error("reopen the disk");
            rig.device = std::make_unique<VirtioBlk>(std::move(disk), "brig-fuzz-blk");
            break;
        }
        case 1: {
            auto [tap, host] = socket_pair(SOCK_DGRAM);
            rig.device = std::make_unique<VirtioNet>(std::move(tap), *ipc::MacAddress::parse("52:54:00:12:34:56"));
            rig.host_ends.push_back(std::move(host));
            break;
        }
        case 2:
            rig.device = std::make_unique<VirtioVsock>(3);
            break;
        case 3: {
            auto [out_dev, out_host] = socket_pair(SOCK_STREAM);
            auto [in_dev, in_host] = socket_pair(SOCK_STREAM);
            rig.device = std::make_unique<VirtioConsole>(std::move(out_dev), std::move(in_dev));
            rig.host_ends.push_back(std::move(in_host));
            rig.host_ends.push_back(std::move(out_host));
            break;
        }
        default:
            rig.device = std::make_unique<VirtioRng>();
            break;
    }
    return rig;
}

// What the service's event thread does when the device's fds are ready.
void deliver_ready(Rig& rig, HostileDriver& driver) {
    std::vector<HostedVirtioDevice::Watch> watches;
    rig.device->watches(watches);
    std::vector<pollfd> fds;
    for (const auto& w : watches) fds.push_back({w.fd, w.events, 0});
    if (fds.empty() || ::poll(fds.data(), fds.size(), 0) <= 0) return;
    for (const auto& p : fds)
        if (p.revents) rig.device->on_ready(p.fd, p.revents);
    driver.transport().kick(rig.device->input_queue());
}

void host_step(Rig& rig, HostileDriver& driver, FuzzInput& in) {
    switch (in.pick(5)) {
        case 0:  // input from the host (a frame, console bytes)
            if (!rig.host_ends.empty()) {
                auto b = in.bytes(2048);
                [[maybe_unused]] auto n = ::send(rig.host_ends[0].get(), b.data(), b.size(), MSG_DONTWAIT);
            }
            break;
        case 1:  // the host end goes away
            if (!rig.host_ends.empty()) rig.host_ends.erase(rig.host_ends.begin());
            break;
        case 2: {  // vsock: brig hands over a host connection (or none: -1)
            const uint32_t guest_port = in.take<uint16_t>(), host_port = in.take<uint16_t>();
            if (in.flag()) {
                rig.device->host_connection(guest_port, host_port, UniqueFd());
            } else {
                auto [dev, host] = socket_pair(SOCK_STREAM);
                rig.device->host_connection(guest_port, host_port, std::move(dev));
                rig.host_ends.push_back(std::move(host));
            }
            driver.transport().kick(rig.device->input_queue());
            break;
        }
        case 3:
            rig.connector_accepts = in.flag();
            break;
        default:
            deliver_ready(rig, driver);
            break;
    }
}

}  // namespace

BRIG_FUZZ_TARGET(virtio_devices) {
    // As in brig and its devices (vmm/supervisor.cpp): a back end that went away is an
    // EPIPE. (A TAP never raises SIGPIPE; the socket standing in for it would.)
    static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
    (void)sigpipe_ignored;
    FuzzInput in(data, size);
    Rig rig = make_device(in.pick(5), in);
    rig.device->set_host_connector([&rig](uint32_t, uint32_t) { return rig.connector_accepts; });
    HostileDriver driver(*rig.device);
    for (unsigned steps = 0; !in.empty() && steps < 256; ++steps) {
        const unsigned op = in.pick(HostileDriver::kSteps + 2);
        if (op < HostileDriver::kSteps)
            driver.step(in, op);
        else
            host_step(rig, driver, in);
    }
    rig.device->flush();
    return 0;
}
