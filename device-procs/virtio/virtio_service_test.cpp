// VirtioService end to end, as brig drives it: registers through the mailbox, queue
// notifies through the queue's eventfd (as KVM's ioeventfd would), the interrupt on the
// irqfd and InterruptStatus in its shadow.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "ipc/mailbox.h"
#include "ipc/virtio/virtio_mmio.h"
#include "device-procs/virtio/virtio_net.h"
#include "device-procs/virtio/virtio_rng.h"
#include "device-procs/virtio/virtio_service.h"
#include "ipc/virtio/virtio_test_guest.h"

using brig::devices::HostedVirtioDevice;
using brig::devices::VirtioService;
using brig::virtio::testing::DriverRing;
using brig::virtio::testing::FakeGuest;
using Resources = std::map<std::string, base::UniqueFd>;

namespace {

constexpr size_t kRamBytes = 4 << 20;

base::UniqueFd dup_fd(int fd) { return base::UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

bool wait_readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    uint64_t v;
    return ::read(fd, &v, sizeof v) == sizeof v;
}

VirtioService rng_service() {
    return VirtioService("virtio-rng", [](Resources&) -> std::unique_ptr<HostedVirtioDevice> {
        return std::make_unique<brig::devices::VirtioRng>();
    });
}

struct Vmm {
    Vmm() {
        ram_fd = base::UniqueFd(memfd_create("guest-ram", MFD_CLOEXEC));
        REQUIRE(ftruncate(ram_fd.get(), kRamBytes) == 0);
        void* p = mmap(nullptr, kRamBytes, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd.get(), 0);
        REQUIRE(p != MAP_FAILED);
        ram = static_cast<uint8_t*>(p);
        guest.emplace(std::span<uint8_t>(ram, kRamBytes));
    }
    ~Vmm() { munmap(ram, kRamBytes); }

    Resources resources(unsigned queues) {
        Resources r;
        r.emplace("irq", dup_fd(irq.get()));
        r.emplace("mailbox", dup_fd(mailbox.fd()));
        r.emplace("guest-memory", dup_fd(ram_fd.get()));
        for (unsigned q = 0; q < queues; ++q) r.emplace("queue" + std::to_string(q), dup_fd(notify[q].get()));
        return r;
    }
    uint32_t rd(uint64_t off) { return static_cast<uint32_t>(client.read(off, 4)); }
    void wr(uint64_t off, uint64_t v) { client.post_write(off, 4, v); }

    // The driver's side of virtio 1.2, 3.1.1, for one queue only (queue 0 unless told).
    void bring_up(const DriverRing& ring, unsigned queue = 0) {
        wr(0x070, 0);
        wr(0x070, 1);
        wr(0x070, 3);
        wr(0x024, 1);
        wr(0x020, 1);  // VERSION_1
        wr(0x070, 0xb);
        REQUIRE((rd(0x070) & 8) != 0);
        wr(0x030, queue);
        REQUIRE(rd(0x034) >= ring.config().size);
        wr(0x038, ring.config().size);
        wr(0x080, ring.config().desc_addr);
        wr(0x084, 0);
        wr(0x090, ring.config().avail_addr);
        wr(0x094, 0);
        wr(0x0a0, ring.config().used_addr);
        wr(0x0a4, 0);
        wr(0x044, 1);
        wr(0x070, 0xf);
        REQUIRE(rd(0x070) == 0xf);
    }

    base::UniqueFd ram_fd;
    uint8_t* ram = nullptr;
    std::optional<FakeGuest> guest;
    base::UniqueFd irq{eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    base::UniqueFd notify[2] = {base::UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
                                base::UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))};
    brig::ipc::SharedMailbox mailbox = brig::ipc::SharedMailbox::create();
    brig::ipc::MailboxClient client{mailbox, std::chrono::milliseconds(2000)};
};

}  // namespace

TEST_CASE("virtio service: activation checks its resources", "[virtio-dev]") {
    Vmm vmm;
    {
        auto service = rng_service();
        auto r = vmm.resources(1);
        r.erase("guest-memory");
        CHECK_THROWS_WITH(service.activate(std::move(r)), Catch::Contains("guest-memory"));
    }
    {
        auto service = rng_service();
        CHECK_THROWS_WITH(service.activate(vmm.resources(2)), Catch::Contains("queue"));
    }
    {
        auto service = rng_service();
        auto r = vmm.resources(1);
        r.emplace("disk", dup_fd(vmm.ram_fd.get()));
        CHECK_THROWS_WITH(service.activate(std::move(r)), Catch::Contains("unexpected resource 'disk'"));
    }
}

TEST_CASE("virtio service runs a device behind the mailbox, ioeventfds and irqfd", "[virtio-dev]") {
    Vmm vmm;
    auto service = rng_service();
    service.activate(vmm.resources(1));
    CHECK(vmm.rd(0x000) == brig::virtio::kMmioMagic);
    CHECK(vmm.rd(0x008) == 4);

    DriverRing ring(*vmm.guest, 0);
    vmm.bring_up(ring);
    const uint64_t buf = vmm.guest->alloc(32);

    // A notify through the queue's ioeventfd.
    ring.add({{buf, 32, true}});
    const uint64_t one = 1;
    REQUIRE(write(vmm.notify[0].get(), &one, sizeof one) == sizeof one);
    REQUIRE(wait_readable(vmm.irq.get(), 2000));
    CHECK(ring.used_idx() == 1);
    CHECK(ring.used(0).len == 32);
    CHECK(vmm.client.read_shadow(brig::devices::kVirtioInterruptStatusShadow) == 1);
    vmm.wr(brig::virtio::kMmioInterruptAck, 1);
    CHECK(vmm.client.read_shadow(brig::devices::kVirtioInterruptStatusShadow) == 0);

    // A QueueNotify write that no ioeventfd caught reaches the device through the mailbox.
    ring.add({{buf, 16, true}});
    vmm.wr(brig::virtio::kMmioQueueNotify, 0);
    REQUIRE(wait_readable(vmm.irq.get(), 2000));
    CHECK(ring.used_idx() == 2);

    // Paused: notifies wait; resumed: they are served.
    service.pause();
    ring.add({{buf, 8, true}});
    REQUIRE(write(vmm.notify[0].get(), &one, sizeof one) == sizeof one);
    CHECK(!wait_readable(vmm.irq.get(), 200));
    CHECK(ring.used_idx() == 2);
    service.resume();
    REQUIRE(wait_readable(vmm.irq.get(), 2000));
    CHECK(ring.used_idx() == 3);

    service.shutdown();
}

TEST_CASE("virtio service: a machine reset (reboot in place) leaves the device as at power-on", "[virtio-dev]") {
    Vmm vmm;
    auto service = rng_service();
    service.activate(vmm.resources(1));
    DriverRing ring(*vmm.guest, 0);
    vmm.bring_up(ring);
    const uint64_t buf = vmm.guest->alloc(32);
    ring.add({{buf, 32, true}});
    const uint64_t one = 1;
    REQUIRE(write(vmm.notify[0].get(), &one, sizeof one) == sizeof one);
    REQUIRE(wait_readable(vmm.irq.get(), 2000));
    REQUIRE(vmm.rd(0x070) == 0xf);

    // A notify the last boot sent that nobody served yet must not reach the next boot.
    service.pause();
    ring.add({{buf, 8, true}});
    REQUIRE(write(vmm.notify[0].get(), &one, sizeof one) == sizeof one);
    service.reset();
    service.resume();           // a reset keeps a paused device paused
    CHECK(vmm.rd(0x070) == 0);  // Status
    CHECK(vmm.rd(0x044) == 0);  // QueueReady
    CHECK(vmm.client.read_shadow(brig::devices::kVirtioInterruptStatusShadow) == 0);
    CHECK(!wait_readable(vmm.irq.get(), 200));

    // The next boot's driver brings it up again and it serves.
    DriverRing again(*vmm.guest, 1);  // fresh memory: a new boot builds its rings anew
    vmm.bring_up(again);
    again.add({{buf, 16, true}});
    REQUIRE(write(vmm.notify[0].get(), &one, sizeof one) == sizeof one);
    REQUIRE(wait_readable(vmm.irq.get(), 2000));
    CHECK(again.used_idx() == 1);
    service.shutdown();
}

TEST_CASE("virtio service: input its queue cannot take is not polled, so the event thread does not spin",
          "[virtio-service]") {
    // virtio-net with only transmitq ready: frames wait in the TAP (a socketpair here),
    // readable, while receiveq cannot be served.
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    base::UniqueFd host(fds[1]);
    auto tap = std::make_shared<base::UniqueFd>(fds[0]);
    VirtioService service("virtio-net", [tap](Resources&) -> std::unique_ptr<HostedVirtioDevice> {
        return std::make_unique<brig::devices::VirtioNet>(std::move(*tap), brig::ipc::MacAddress{{2, 0, 0, 0, 0, 1}});
    });
    Vmm vmm;
    service.activate(vmm.resources(2));
    DriverRing tx(*vmm.guest, 1);
    vmm.bring_up(tx, brig::devices::VirtioNet::kTransmitQueue);
    uint8_t frame[12 + 60] = {};
    REQUIRE(::write(host.get(), frame, sizeof frame) == sizeof frame);
    timespec before{}, after{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &after);
    const double cpu_ms = (after.tv_sec - before.tv_sec) * 1e3 + (after.tv_nsec - before.tv_nsec) / 1e6;
    CHECK(cpu_ms < 100);  // a spinning event thread takes all 400 ms
    service.shutdown();
}
