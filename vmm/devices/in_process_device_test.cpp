#include "vmm/devices/in_process_device.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "device-procs/device_registry.h"
#include "ipc/device_kind.h"

namespace ipc = brig::ipc;

TEST_CASE("an in-process device lets go of its fds at shutdown, as a device process does by exiting", "[in-process]") {
    int pipe_fds[2];
    REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
    base::UniqueFd read_end(pipe_fds[0]);
    std::map<std::string, base::UniqueFd> resources;
    resources.emplace(std::string(ipc::resource::kIrq), base::UniqueFd(::eventfd(0, EFD_CLOEXEC)));
    resources.emplace(std::string(ipc::resource::kOutput), base::UniqueFd(pipe_fds[1]));
    auto service = brig::devices::create_device_service(ipc::kinds::kSerial, "serial");
    service->activate(std::move(resources));
    brig::InProcessDevice device("serial", std::move(service));

    const uint8_t byte = 'x';
    device.write(0, std::span(&byte, 1));  // THR: the UART writes it out
    device.shutdown();
    // Every byte written reaches the pipe, then end-of-file: the console relay that
    // drains this pipe when brig stops sees EOF at once instead of waiting for its timeout.
    pollfd p{read_end.get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 1000) == 1);
    char got[4] = {};
    CHECK(::read(read_end.get(), got, sizeof got) == 1);
    CHECK(got[0] == 'x');
    CHECK(::read(read_end.get(), got, sizeof got) == 0);

    uint8_t data[1] = {0xff};
    device.read(5, data);  // after shutdown: reads 0, writes are dropped
    CHECK(data[0] == 0);
    device.write(0, std::span(&byte, 1));
}
