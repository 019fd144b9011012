// An interrupt line backed by an eventfd that KVM watches as an irqfd. Writing the
// eventfd injects the interrupt without entering the VMM, so the same object works in
// the VMM process and, handed over as an fd, in a jailed device process.
#pragma once

#include "base/eventfd.h"
#include "base/unique_fd.h"
#include "ipc/bus_device.h"

namespace brig {

class EventFdInterrupt final : public InterruptLine {
public:
    explicit EventFdInterrupt(base::UniqueFd fd) : fd_(std::move(fd)) {}
    int fd() const { return fd_.get(); }
    // A failed write is EAGAIN: the counter is already pending, the interrupt fires anyway.
    void trigger() override { base::signal_eventfd(fd_.get()); }

private:
    base::UniqueFd fd_;
};

}  // namespace brig
