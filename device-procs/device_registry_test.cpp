// The device kinds (ipc/device_kind.h), their factories (device_registry.cpp), their
// policy files and the sandbox table that `brig policy list` prints must agree; and
// each device built from its factory must be what its descriptor says.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "device-procs/device_registry.h"
#include "device-procs/serial/serial_16550.h"
#include "ipc/device_contract.h"
#include "ipc/device_kind.h"
#include "ipc/sandbox/profiles.h"
#include "ipc/virtio/virtio_mmio_registers.h"

using base::UniqueFd;
namespace ipc = brig::ipc;

namespace {

constexpr size_t kRamBytes = 4 << 20;

base::UniqueFd eventfd_or_fail() {
    base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    REQUIRE(fd);
    return fd;
}

// Every resource the kind lists but the mailbox (the in-process host has none), each
// a real fd of the right sort.
std::map<std::string, base::UniqueFd> resources_for(const ipc::DeviceKind& kind) {
    std::map<std::string, base::UniqueFd> r;
    for (const auto& spec : kind.resources()) {
        if (spec.name == ipc::resource::kMailbox) continue;
        base::UniqueFd fd;
        if (spec.name == ipc::resource::kGuestMemory) {
            fd = base::UniqueFd(::memfd_create("guest-ram", MFD_CLOEXEC));
            REQUIRE(::ftruncate(fd.get(), kRamBytes) == 0);
        } else if (spec.name == ipc::resource::kDisk) {
            fd = base::UniqueFd(::memfd_create("disk", MFD_CLOEXEC));
            REQUIRE(::ftruncate(fd.get(), 1 << 20) == 0);
        } else if (spec.name == ipc::resource::kOutput || spec.name == ipc::resource::kInput) {
            fd = base::UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC));
        } else {
            fd = eventfd_or_fail();
        }
        REQUIRE(fd);
        r.emplace(spec.name, std::move(fd));
    }
    return r;
}

// The settings brig sends the kind (ipc::setting), with valid values.
ipc::Settings settings_for(const ipc::DeviceKind& kind) {
    if (&kind == &ipc::kinds::kVirtioNet) return {{std::string(ipc::setting::kMac), "52:54:00:00:00:01"}};
    if (&kind == &ipc::kinds::kVirtioVsock) return {{std::string(ipc::setting::kGuestCid), "3"}};
    return {};
}

}  // namespace

TEST_CASE("every device kind has exactly one factory, and every factory a known kind", "[registry]") {
    std::set<const ipc::DeviceKind*> with_factory;
    for (const auto& factory : brig::devices::device_factories()) {
        INFO(factory.kind->name);
        CHECK(ipc::find_device_kind(factory.kind->name) == factory.kind);
        CHECK(with_factory.insert(factory.kind).second);
    }
    for (const ipc::DeviceKind* kind : ipc::device_kinds()) {
        INFO(kind->name);
        CHECK(with_factory.count(kind) == 1);
    }
    CHECK_THROWS_AS(ipc::device_kind("virtio-nothing"), std::out_of_range);
}

TEST_CASE("every device kind has its policy file and its row in the sandbox table brig policy prints", "[registry]") {
    const char* dir = std::getenv("BRIG_POLICY_DIR");
    REQUIRE(dir != nullptr);
    std::set<std::string> kinds;
    for (const ipc::DeviceKind* kind : ipc::device_kinds()) {
        INFO(kind->name);
        kinds.insert(std::string(kind->name));
        CHECK(std::filesystem::is_regular_file(std::filesystem::path(dir) / kind->policy_file()));
        const auto& context = brig::sandbox::device_context(kind->name);
        CHECK(context.policy_file == kind->policy_file());
        CHECK(context.description == kind->description);
    }
    std::set<std::string> device_rows;
    for (const auto& context : brig::sandbox::sandbox_contexts())
        if (context.kind == brig::sandbox::ContextKind::DeviceProcess) device_rows.insert(context.name);
    CHECK(device_rows == kinds);
    CHECK(ipc::kinds::kVirtioBlk.policy_file() == "virtio_blk_device.policy");
}

TEST_CASE("a virtio device built by its factory has its descriptor's id and queue count", "[registry]") {
    namespace reg = brig::virtio::mmio_register;
    for (const ipc::DeviceKind* kind : ipc::device_kinds()) {
        if (!kind->is_virtio()) continue;
        INFO(kind->name);
        auto service = brig::devices::create_device_service(*kind, std::string(kind->name));
        service->configure(settings_for(*kind));
        service->activate(resources_for(*kind));
        CHECK(service->read(reg::kDeviceId, 4) == kind->virtio_id);
        unsigned queues = 0;
        for (unsigned q = 0; q < 64; ++q) {
            service->write(reg::kQueueSel, 4, q);
            if (service->read(reg::kQueueNumMax, 4) == 0) break;
            ++queues;
        }
        CHECK(queues == kind->queue_count);
        service->shutdown();
    }
}

TEST_CASE("the serial kind shadows the UART's line status register", "[registry]") {
    const auto& shadows = ipc::kinds::kSerial.shadows;
    REQUIRE(shadows.size() == 1);
    CHECK(shadows[0].offset == brig::devices::Serial16550::kLineStatusOffset);
    CHECK(shadows[0].shadow == ipc::device_contract::kSerialLineStatusShadow);
    auto service = brig::devices::create_device_service(ipc::kinds::kSerial, "serial");
    service->activate(resources_for(ipc::kinds::kSerial));
    service->shutdown();
}

TEST_CASE("activation in the jail refuses an unknown or missing resource and places the disk at its slot",
          "[registry]") {
    namespace contract = ipc::device_contract;
    const auto& blk = ipc::kinds::kVirtioBlk;
    {
        auto r = resources_for(blk);
        r.emplace("tap", eventfd_or_fail());
        CHECK_THROWS_WITH(contract::place_activation_resources(blk, r), Catch::Contains("unexpected resource 'tap'"));
    }
    {
        auto r = resources_for(blk);
        r.erase(std::string(ipc::resource::kDisk));
        CHECK_THROWS_WITH(contract::place_activation_resources(blk, r), Catch::Contains("missing resource 'disk'"));
    }
    {
        auto r = resources_for(blk);
        r.erase(ipc::resource::queue(0));
        CHECK_THROWS_WITH(contract::place_activation_resources(blk, r), Catch::Contains("missing resource 'queue0'"));
    }
    {
        auto r = resources_for(blk);
        REQUIRE(::fcntl(contract::kDiskFd, F_GETFD) == -1);  // the slot is free here, as in the jail
        contract::place_activation_resources(blk, r);
        CHECK(r.at(std::string(ipc::resource::kDisk)).get() == contract::kDiskFd);
    }
    // The mailbox and console fds are optional.
    auto r = resources_for(ipc::kinds::kSerial);
    r.erase(std::string(ipc::resource::kOutput));
    r.erase(std::string(ipc::resource::kInput));
    CHECK_NOTHROW(contract::place_activation_resources(ipc::kinds::kSerial, r));
}
