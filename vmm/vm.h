// Everything one running VM owns. Members are declared in dependency order, so they
// are destroyed in reverse: the vCPUs (in the board) stop first, then the device
// processes are reaped, then the IPC thread, buses and memory go away.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "vmm/acpi/acpi_tables.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/kvm/reset_state.h"
#include "vmm/board/board.h"
#include "vmm/board/cpu_topology.h"
#include "vmm/console/output_relay.h"
#include "vmm/console/syslog_lines.h"
#include "vmm/bus/bus.h"
#include "ipc/device_control.h"
#include "vmm/devices/device_process.h"
#include "vmm/devices/device_proxy.h"
#include "vmm/devices/stall_watch.h"
#include "vmm/kvm/kvm.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/sandbox/device_cgroup.h"
#include "vmm/sandbox/jail_ids.h"
#include "vmm/sandbox/policies.h"
#include "vmm/devices/in_process_device.h"
#include "vmm/vsock/vsock_broker.h"
#include "vmm/control/event_log.h"

namespace brig {

// What brig keeps for a device for the VM's life: its irqfd and queue ioeventfds
// (registered with KVM), its disk (locked), its console file, and the relay of its
// console output to stdout.
struct DeviceResources {
    std::vector<base::UniqueFd> fds;
    std::unique_ptr<OutputRelay> console_relay;  // none unless it writes to stdout
    std::unique_ptr<SyslogLines> syslog_lines;   // none unless it writes to syslog
};

// A device and what it owns: either a jailed process with its stand-in on the bus,
// or (--disable-sandbox) the device object itself, in brig's process.
struct AttachedDevice {
    std::string kind;                        // its kind's name ("virtio-blk"), for brig status
    DeviceResources owned;                   // first: released after the process is reaped
    std::unique_ptr<DeviceProcess> process;  // jailed: these two
    std::shared_ptr<DeviceProxy> proxy;
    std::shared_ptr<InProcessDevice> in_process;  // --disable-sandbox: this one
    StallWatch stall{kDeviceAnswerLimit};         // jailed: the supervisor's hang check
};

// --on-reboot restart: what a reboot in place loads again and writes back.
struct RebootPlan {
    boot::BootFiles files;  // open since the first boot
    std::string cmdline;
    boot::BootEntry entry;  // the first boot's: every reboot must land on the same
    VmResetState platform;  // the PIC, IOAPIC and PIT before the first instruction
    unsigned limit;         // --max-reboots
    unsigned done = 0;      // reboots so far
};

struct Vm {
    Vm(Kvm kvm_, VmFd vm_fd_, GuestMemory memory_)
        : kvm(std::move(kvm_)), vm_fd(std::move(vm_fd_)), memory(std::move(memory_)) {}
    // The broker's thread is joined here, on the main thread, before anything it calls
    // into goes (the IPC thread may hold the last reference to it).
    ~Vm() {
        if (vsock) vsock->stop();
    }
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    Kvm kvm;
    VmFd vm_fd;
    GuestMemory memory;
    Bus pio{"pio"};
    Bus mmio{"mmio"};

    // The write end of the pipe a jailed console device reads as its input (the serial
    // device, or the virtio console); the supervisor relays stdin into it.
    base::UniqueFd console_input;
    std::vector<acpi::VirtioMmioEntry> virtio_windows;  // declared in the DSDT
    std::vector<unsigned> more_com_ports;               // COM2..COM4 attached, declared in the DSDT

    std::optional<VmmThreadFilters> thread_filters;  // absent with --disable-sandbox
    // Resolved once, before the first device: where policies and brig-device come from.
    std::filesystem::path policy_dir;
    std::filesystem::path device_executable;
    std::unique_ptr<ipc::IpcThread> ipc;
    // The ids the devices run as, held until every device below is reaped.
    std::unique_ptr<JailIdAllocator> jail_ids;
    std::unique_ptr<DeviceCgroups> cgroups;  // --cgroup-parent; each device owns its leaf
    std::vector<AttachedDevice> devices;
    // --vsock: the host side of the virtio-vsock device (after the devices: it goes first).
    std::shared_ptr<vsock::Broker> vsock;

    std::atomic<bool> guest_alive{false};  // the guest has written to its console
    std::atomic<bool> guest_ready{false};  // --ready-port: the guest connected to it
    std::optional<uint64_t> vsock_cid;     // --vsock, for brig status
    std::optional<RebootPlan> reboot;      // --on-reboot restart
    CpuTopology topology;                  // --cpus, for brig status and every reboot
    // Signalled to press the power button: an irqfd on the GED's GSI (layout::kGedIrq).
    base::UniqueFd power_button;
    // Where the VM's events go (brig events), when there is a control socket.
    std::atomic<control::EventLog*> events{nullptr};
    Board board;  // last: its vCPU threads are joined first
};

}  // namespace brig
