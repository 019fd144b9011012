// Everything one running VM owns. Members are declared in dependency order, so they
// are destroyed in reverse: vCPUs (in the board) stop before the buses, devices and
// memory they use go away.
#pragma once

#include <memory>
#include <vector>

#include "board/board.h"
#include "bus/bus.h"
#include "kvm/kvm.h"
#include "memory/guest_memory.h"
#include "serial/serial_16550.h"

namespace brig {

struct Vm {
    Vm(Kvm kvm_, VmFd vm_fd_, GuestMemory memory_)
        : kvm(std::move(kvm_)), vm_fd(std::move(vm_fd_)), memory(std::move(memory_)) {}

    Kvm kvm;
    VmFd vm_fd;
    GuestMemory memory;
    Bus pio{"pio"};
    Bus mmio{"mmio"};
    std::shared_ptr<devices::Serial16550> serial;
    UniqueFd serial_output;  // the file behind --serial file=PATH
    Board board;              // last: its vCPU threads are joined first on destruction
};

}  // namespace brig
