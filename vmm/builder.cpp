#include "builder.h"

#include <fcntl.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "acpi/acpi_tables.h"
#include "boot/kernel_loader.h"
#include "error.h"
#include "eventfd_interrupt.h"
#include "kvm/cpuid.h"
#include "kvm/msrs.h"
#include "memory/layout.h"
#include "platform/acpi_pm.h"
#include "platform/i8042.h"
#include "devices/console_activity.h"
#include "minijail/policy.h"
#include "sandbox/sandbox_files.h"
#include "sandbox/vmm_sigsys.h"
#include <spdlog/fmt/fmt.h>

namespace brig {
namespace {

constexpr std::chrono::milliseconds kDeviceControlTimeout(2000);
// A forwarded access the device has not answered in this long is a device failure.
constexpr std::chrono::milliseconds kDeviceReplyTimeout(1000);
constexpr unsigned kSerialLineStatusShadow = 0;

// --- step helpers, in the order build_vm() calls them ---

std::unique_ptr<Vm> create_vm_with_memory(const RunOptions& options) {
    Kvm kvm = Kvm::open();
    GuestMemory memory = GuestMemory::create(options.mem_mib * layout::MiB);
    VmFd vm = VmFd::create(kvm);
    vm.set_tss_address(layout::kKvmTss);
    vm.set_identity_map_address(layout::kKvmIdentityMap);
    vm.create_irqchip();
    vm.create_pit();
    return std::make_unique<Vm>(std::move(kvm), std::move(vm), std::move(memory));
}

void register_guest_memory(Vm& vm) {
    uint32_t slot = 0;
    for (const auto& region : vm.memory.regions())
        vm.vm_fd.set_user_memory_region(slot++, region.guest_addr, region.size, region.host);
}

void attach_platform_devices(Vm& vm) {
    Board& board = vm.board;
    PowerRequestHandler handler = [&board](PowerRequest request, std::string_view via) {
        if (request == PowerRequest::PowerOff)
            board.request_stop({StopKind::GuestPowerOff, "guest powered off via " + std::string(via)});
        else
            board.request_stop({StopKind::GuestReset, "guest reset via " + std::string(via)});
    };
    vm.pio.insert(std::make_shared<AcpiPowerManagement>(handler), layout::kAcpiPmPort, layout::kAcpiPmSize);
    vm.pio.insert(std::make_shared<I8042ResetController>(handler), layout::kI8042DataPort,
                  layout::kI8042CommandPort - layout::kI8042DataPort + 1);
}

std::shared_ptr<InterruptLine> create_irq_line(const Vm& vm, uint32_t gsi) {
    UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) throw_errno("eventfd(irq " + std::to_string(gsi) + ")");
    vm.vm_fd.register_irqfd(fd.get(), gsi);
    return std::make_shared<EventFdInterrupt>(std::move(fd));
}

devices::Serial16550::Writer console_writer(int fd) {
    return [fd](std::span<const uint8_t> bytes) {
        size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;  // a closed console must not stop the guest
            done += static_cast<size_t>(n);
        }
    };
}

// The fd COM1 output goes to: stdout, the --serial file, or none (sink).
int open_console_output(Vm& vm, const ConsoleOutput& output) {
    switch (output.kind) {
        case ConsoleOutput::Kind::Stdout:
            return STDOUT_FILENO;
        case ConsoleOutput::Kind::File:
            vm.serial_output.reset(::open(output.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
            if (!vm.serial_output)
                throw InvalidArgument("--serial: cannot open " + output.path.string() + ": " + std::strerror(errno));
            return vm.serial_output.get();
        case ConsoleOutput::Kind::Sink:
            break;
    }
    return -1;
}

std::function<void()> note_console_output(Vm& vm) {
    return [&vm] { vm.guest_alive = true; };
}

void attach_serial_in_process(Vm& vm, int output_fd) {
    vm.in_process_serial = std::make_shared<devices::Serial16550>(
        "serial", create_irq_line(vm, layout::kCom1Irq),
        output_fd >= 0 ? console_writer(output_fd) : devices::Serial16550::Writer());
    vm.pio.insert(std::make_shared<ConsoleActivityWatch>(vm.in_process_serial, note_console_output(vm)),
                  layout::kCom1Port, layout::kCom1Size);
}

void attach_serial_process(Vm& vm, const RunOptions& options, int output_fd, bool forward_stdin) {
    const std::string name = "serial";
    const auto started = std::chrono::steady_clock::now();
    DeviceProcessConfig config{"serial", name, find_device_executable(),
                               compile_device_policy(find_policy_dir(), "serial"), options.jail_uid, options.jail_gid};
    auto process = DeviceProcess::spawn(config, *vm.ipc, [](const std::string& device, const std::string& message) {
        spdlog::warn("[{}] device reports: {}", device, message);
    });

    UniqueFd irq(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!irq) throw_errno("eventfd(serial irq)");
    vm.vm_fd.register_irqfd(irq.get(), layout::kCom1Irq);
    auto mailbox = std::make_shared<ipc::SharedMailbox>(ipc::SharedMailbox::create());
    std::vector<ipc::NamedFd> resources = {{"irq", irq.get()}, {"mailbox", mailbox->fd()}};
    if (output_fd >= 0) resources.push_back({"output", output_fd});
    if (forward_stdin) resources.push_back({"input", STDIN_FILENO});
    try {
        process->control().activate(resources, kDeviceControlTimeout);
    } catch (const ipc::DeviceControlError& e) {
        // Most likely it died: say how, as the supervisor would once the guest runs.
        process->wait_or_kill(kDeviceControlTimeout);
        throw DeviceCrashed(fmt::format("{} (pid {}) {} during activation ({})", name, process->pid(), process->reap(),
                                        e.what()));
    }
    vm.irq_eventfds.push_back(std::move(irq));
    spdlog::debug("[{}] device process pid {} jailed and active in {} us", name, process->pid(),
                  std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());

    const pid_t pid = process->pid();
    auto proxy = std::make_shared<DeviceProxy>(
        name, mailbox, kDeviceReplyTimeout,
        std::map<uint64_t, unsigned>{{devices::Serial16550::kLineStatusOffset, kSerialLineStatusShadow}},
        [&vm, pid](const std::string& device, const std::string& why) {
            vm.board.request_stop({StopKind::DeviceCrash, fmt::format("{} (pid {}): {}", device, pid, why),
                                   fmt::format("{} pid={} reason=bad-reply", device, pid)});
        });
    vm.pio.insert(std::make_shared<ConsoleActivityWatch>(proxy, note_console_output(vm)), layout::kCom1Port,
                  layout::kCom1Size);
    vm.devices.push_back({std::move(process), std::move(proxy)});
}

void attach_serial(Vm& vm, const RunOptions& options, bool forward_stdin) {
    const int output_fd = open_console_output(vm, options.serial);
    if (options.disable_sandbox)
        attach_serial_in_process(vm, output_fd);
    else
        attach_serial_process(vm, options, output_fd, forward_stdin);
}

void prepare_sandbox(Vm& vm, const RunOptions& options) {
    if (options.disable_sandbox) {
        spdlog::warn("[sandbox] *** --disable-sandbox: devices run INSIDE the brig process with no jail and no "
                     "seccomp filter; a guest that exploits a device owns brig. Use only for debugging. ***");
        return;
    }
    vm.thread_filters = compile_vmm_policies(find_policy_dir());
    install_vmm_sigsys_reporter();
    vm.ipc = std::make_unique<ipc::IpcThread>();
}

uint64_t write_acpi_tables(const Vm& vm, unsigned cpus) {
    acpi::AcpiConfig config;
    config.num_cpus = cpus;
    config.com1 = true;
    const auto blob = acpi::build_acpi_tables(config, layout::kAcpiTables);
    vm.memory.write(blob.base, blob.bytes);
    return blob.rsdp_addr;
}

void configure_vcpu(const Vm& vm, const VcpuFd& vcpu, unsigned count, const std::vector<kvm_cpuid_entry2>& cpuid) {
    vcpu.set_cpuid(normalize_cpuid(cpuid, vcpu.index(), count));
    vcpu.set_msrs(boot_msrs());

    kvm_fpu fpu{};
    fpu.fcw = 0x37f;      // x87 default control word: all exceptions masked
    fpu.mxcsr = 0x1f80;   // SSE default: all exceptions masked
    vcpu.set_fpu(fpu);

    // Local APIC LINT0 as ExtINT (the PIC) and LINT1 as NMI, as firmware would leave them.
    constexpr size_t kLvtLint0 = 0x350, kLvtLint1 = 0x360;
    constexpr uint32_t kDeliveryModeShift = 8, kDeliveryExtInt = 7, kDeliveryNmi = 4;
    constexpr uint32_t kDeliveryModeMask = 0x7u << kDeliveryModeShift;
    auto lapic = vcpu.get_lapic();
    auto set_lvt = [&lapic](size_t reg, uint32_t mode) {
        uint32_t value;
        std::memcpy(&value, lapic.regs + reg, sizeof value);
        value = (value & ~kDeliveryModeMask) | (mode << kDeliveryModeShift);
        std::memcpy(lapic.regs + reg, &value, sizeof value);
    };
    set_lvt(kLvtLint0, kDeliveryExtInt);
    set_lvt(kLvtLint1, kDeliveryNmi);
    vcpu.set_lapic(lapic);
    (void)vm;
}

void create_vcpus(Vm& vm, unsigned count, const boot::BootEntry& entry) {
    Vcpu::install_kick_handler();
    // Each vCPU thread puts itself under the vCPU filter before its first KVM_RUN.
    std::function<void()> on_thread_start;
    if (vm.thread_filters) {
        on_thread_start = [&filter = vm.thread_filters->vcpu] { install_thread_filter("vcpu", filter); };
    }
    const auto cpuid = vm.kvm.supported_cpuid();
    const VcpuExitContext ctx{vm.pio, vm.mmio, vm.memory};
    for (unsigned i = 0; i < count; ++i) {
        VcpuFd fd = VcpuFd::create(vm.kvm, vm.vm_fd, i);
        configure_vcpu(vm, fd, count, cpuid);
        if (i == 0) {
            // Only the boot CPU gets registers; the others wait for INIT/SIPI from the guest.
            kvm_regs regs{};
            kvm_sregs sregs = fd.get_sregs();
            boot::setup_boot_cpu(vm.memory, entry, regs, sregs);
            fd.set_sregs(sregs);
            fd.set_regs(regs);
        }
        vm.board.add_vcpu(std::make_unique<Vcpu>(std::move(fd), ctx, vm.board.stop_handler(), on_thread_start));
    }
}

}  // namespace

std::unique_ptr<Vm> build_vm(const RunOptions& options, bool forward_stdin) {
    auto vm = create_vm_with_memory(options);
    register_guest_memory(*vm);
    prepare_sandbox(*vm, options);
    attach_platform_devices(*vm);
    attach_serial(*vm, options, forward_stdin);
    const uint64_t rsdp = write_acpi_tables(*vm, options.cpus);
    const boot::BootEntry entry = boot::load_guest_kernel(
        vm->memory, boot::BootConfig{options.kernel, options.initrd, options.cmdline, rsdp});
    spdlog::debug("[boot] {} kernel, entry {:#x}, boot info at {:#x}",
                  entry.protocol == boot::BootProtocol::Pvh ? "PVH" : "Linux 64-bit", entry.entry_point,
                  entry.boot_info_addr);
    create_vcpus(*vm, options.cpus, entry);
    return vm;
}

}  // namespace brig
