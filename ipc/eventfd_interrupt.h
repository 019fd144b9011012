// An interrupt line backed by an eventfd that KVM watches as an irqfd. Writing the
// eventfd injects the interrupt without entering the VMM, so the same object works in
// the VMM process and, handed over as an fd, in a jailed device process.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "ipc/bus_device.h"
#include "base/unique_fd.h"

namespace brig {

class EventFdInterrupt final : public InterruptLine {
public:
    explicit EventFdInterrupt(base::UniqueFd fd) : fd_(std::move(fd)) {}
    int fd() const { return fd_.get(); }
    void trigger() override {
        const uint64_t one = 1;
        // EAGAIN means the counter is already pending: the interrupt will fire anyway.
        [[maybe_unused]] auto n = ::write(fd_.get(), &one, sizeof one);
    }

private:
    base::UniqueFd fd_;
};

}  // namespace brig
