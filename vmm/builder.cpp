#include "vmm/builder.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <spdlog/spdlog.h>

#include "base/error.h"
#include "base/eventfd.h"
#include "vmm/acpi/acpi_tables.h"
#include "ipc/virtio/virtio_mmio.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/disk/disk_image.h"
#include "ipc/device_contract.h"
#include "vmm/error.h"
#include "ipc/eventfd_interrupt.h"
#include "vmm/exit_report.h"
#include "vmm/kvm/cpuid.h"
#include "vmm/kvm/msrs.h"
#include "vmm/net/tap.h"
#include "vmm/memory/layout.h"
#include "vmm/logging.h"
#include "vmm/output_file.h"
#include "vmm/unix_listener.h"
#include "vmm/platform/acpi_pm.h"
#include "vmm/platform/i8042.h"
#include "vmm/platform/pvpanic.h"
#include "vmm/devices/console_activity.h"
#include "device-procs/device_registry.h"
#include "ipc/device_kind.h"
#include "minijail-wrapper/minijail/policy.h"
#include "ipc/sandbox/profiles.h"
#include "vmm/sandbox/sandbox_files.h"
#include "vmm/sandbox/seccomp_notifier.h"
#include "vmm/sandbox/vmm_sigsys.h"
#include <spdlog/fmt/fmt.h>

namespace brig {
namespace {

constexpr std::chrono::milliseconds kDeviceControlTimeout(2000);
// A forwarded access unanswered this long fails even if the device keeps running (one
// that spins instead of answering). A device that sleeps on an access fails far sooner,
// by the supervisor's hang check (devices/stall_watch.h, kDeviceAnswerLimit).
constexpr std::chrono::milliseconds kDeviceAnswerBackstop(30000);

// --- step helpers, in the order build_vm() calls them ---

// --policy-dir, or the installed/source policies/.
std::filesystem::path policy_dir(const RunOptions& options) {
    if (!options.policy_dir) return find_policy_dir();
    if (!std::filesystem::is_directory(*options.policy_dir))
        throw InvalidArgument("--policy-dir: " + options.policy_dir->string() + " is not a directory");
    return *options.policy_dir;
}

std::unique_ptr<Vm> create_vm_with_memory(const RunOptions& options) {
    Kvm kvm = Kvm::open();
    GuestMemory memory = GuestMemory::create(
        options.mem_mib * layout::MiB, options.hugepages ? GuestMemory::Pages::Huge2MiB : GuestMemory::Pages::Normal);
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
    // The power button's line: brig's control socket pulses it (brig powerbtn).
    vm.power_button = base::make_eventfd("power button");
    vm.vm_fd.register_irqfd(vm.power_button.get(), layout::kGedIrq);
    vm.pio.insert(std::make_shared<Pvpanic>([&board] {
                      board.request_stop({StopKind::GuestPanic, "guest panicked (pvpanic)"});
                  }),
                  layout::kPvpanicPort, 1);
}

// --serial type=unix: brig connects to the listening socket, so the jailed device
// connects nothing; blocking from then on, as a file is (the device writes from a
// thread of its own).
base::UniqueFd connect_console_socket(const ConsoleOutput& output) {
    base::UniqueFd fd = unix_stream_socket();
    if (const int err = connect_unix(fd.get(), output.path); err != 0)
        throw InvalidArgument(output.flag + ": cannot connect to " + output.path.string() + ": " + std::strerror(err));
    const int flags = fcntl(fd.get(), F_GETFL);
    if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
        base::throw_errno("fcntl(" + output.path.string() + ")");
    return fd;
}

// The fd console output goes to: stdout, a file or a connected socket (kept open in
// `file`), or none (sink).
int open_console_output(const ConsoleOutput& output, base::UniqueFd& file) {
    switch (output.kind) {
        case ConsoleOutput::Kind::Stdout:
            return STDOUT_FILENO;
        case ConsoleOutput::Kind::File:
            file = open_output_file(output.flag, output.path, O_TRUNC, 0640);
            return file.get();
        case ConsoleOutput::Kind::Unix:
            file = connect_console_socket(output);
            return file.get();
        case ConsoleOutput::Kind::Sink:
        case ConsoleOutput::Kind::Syslog:  // a pipe of its own (device_console_output)
            break;
    }
    return -1;
}

std::function<void()> note_console_output(Vm& vm) {
    return [&vm] { vm.guest_alive = true; };
}

// The UART's bytes, when they go to stdout, for brig's final line (exit_report.h).
std::function<void(uint8_t)> watch_console_bytes(const RunOptions& options) {
    if (options.serial.kind != ConsoleOutput::Kind::Stdout) return {};
    return exit_report::note_console_byte;
}

// Where a console device writes: a file or socket brig opened for it alone, or, for
// stdout and syslog, a pipe of its own that the supervisor relays
// (console/output_relay.h, console/syslog_lines.h); the device never holds brig's
// stdout or its syslog socket. Returns the fd to hand over, -1 for a sink; a pipe's
// write end is kept in `write_end` until the device holds it. `syslog_tag` tags a
// syslog port's lines.
int device_console_output(const std::string& device, const ConsoleOutput& output, DeviceResources& owned,
                          base::UniqueFd& write_end, const std::string& syslog_tag) {
    if (output.kind == ConsoleOutput::Kind::Syslog) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) base::throw_errno("pipe2(" + device + " syslog output)");
        write_end.reset(fds[1]);
        owned.syslog_lines = std::make_unique<SyslogLines>(
            device, base::UniqueFd(fds[0]), logging::connect_syslog(syslog_socket_path(), output.flag), syslog_tag);
        return write_end.get();
    }
    if (output.kind != ConsoleOutput::Kind::Stdout) {
        base::UniqueFd file;
        const int fd = open_console_output(output, file);
        if (file) owned.fds.push_back(std::move(file));
        return fd;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) base::throw_errno("pipe2(" + device + " console output)");
    write_end.reset(fds[1]);
    owned.console_relay = std::make_unique<OutputRelay>(device, base::UniqueFd(fds[0]), STDOUT_FILENO);
    return write_end.get();
}

// A console device's input: a pipe the supervisor writes what the operator types into
// (after brig's escapes), never brig's own stdin. The write end stays with the VM.
base::UniqueFd console_input_pipe(Vm& vm) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) base::throw_errno("pipe2(console input)");
    base::UniqueFd read_end(fds[0]);
    vm.console_input.reset(fds[1]);
    // A guest that reads nothing must not block the supervisor: it keeps the backlog.
    if (fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) base::throw_errno("fcntl(console input, O_NONBLOCK)");
    return read_end;
}

// Where a device sits, and what brig hands it beyond the resources every device of
// its kind gets (ipc/device_kind.h).
struct DeviceAttachment {
    const ipc::DeviceKind& kind;
    std::string name;
    std::vector<ipc::NamedFd> resources;  // its own: disk, console output and input, TAP
    Bus* bus;
    uint64_t base;
    uint64_t size;
    uint32_t irq;
    DeviceResources owned = {};   // kept for the VM's life (AttachedDevice::owned)
    ipc::Settings settings = {};  // its activation's named values (virtio-net's MAC)
};

// --jail-user: the same ids for every device; else an id of its own, locked for the VM's life.
RunOptions::JailUser jail_ids_for_device(Vm& vm, const RunOptions& options) {
    if (options.jail_user) return *options.jail_user;
    const uint32_t id = vm.jail_ids->acquire();
    return {id, id};
}

// A virtio-vsock device's guest connecting to a host port: queued for the broker,
// which answers through the device's control path (never from the IPC thread).
std::function<void(const std::string&, uint32_t, uint32_t)> guest_connects_host(Vm& vm) {
    return
        [broker = std::weak_ptr<vsock::Broker>(vm.vsock)](const std::string&, uint32_t guest_port, uint32_t host_port) {
            if (auto b = broker.lock()) b->connect_host(guest_port, host_port);
        };
}

// The device in a jailed brig-device process, behind a proxy on the bus.
std::shared_ptr<BusDevice> start_device_process(Vm& vm, const RunOptions& options, DeviceAttachment& attachment,
                                                std::vector<ipc::NamedFd> resources, AttachedDevice& record) {
    const std::string& name = attachment.name;
    const std::string kind(attachment.kind.name);
    const auto started = std::chrono::steady_clock::now();
    const RunOptions::JailUser ids = jail_ids_for_device(vm, options);
    DeviceProcessConfig config{kind, name, vm.device_executable, {}, ids.uid, ids.gid, {}, {}, {}};
    if (vm.vsock && &attachment.kind == &ipc::kinds::kVirtioVsock) config.on_connect_host = guest_connects_host(vm);
    if (vm.cgroups) {
        const sandbox::JailProfile& jail = sandbox::device_context(kind).jail;
        const uint64_t memory = jail.cgroup_memory_bytes + (jail.cgroup_memory_plus_guest ? vm.memory.size() : 0);
        config.cgroup = vm.cgroups->create(name, memory, jail.cgroup_pids);
    }
    // Every mode hands brig the filter's listener: in kill mode brig reads a refused
    // syscall from the kernel and kills the device; in log and learn mode the notifier
    // records it and lets it run.
    config.filter = options.seccomp_mode == RunOptions::SeccompMode::Learn
                        ? compile_learn_filter(ipc::device_contract::kReportFd)
                        : compile_device_policy_notifying(vm.policy_dir, kind);
    if (options.seccomp_mode != RunOptions::SeccompMode::Kill) {
        SeccompNotifier* notifier = SeccompNotifier::active();
        if (!notifier) throw HostError("--seccomp: no seccomp notifier is running");
        config.on_seccomp_listener = [notifier, kind, name](pid_t pid, base::UniqueFd listener) {
            notifier->add_device(kind, name, pid, std::move(listener));
        };
    }
    auto process = DeviceProcess::spawn(config, *vm.ipc, [](const std::string& device, const std::string& message) {
        spdlog::warn("[{}] device reports: {}", device, message);
    });

    auto mailbox = std::make_shared<ipc::SharedMailbox>(ipc::SharedMailbox::create());
    resources.push_back({std::string(ipc::resource::kMailbox), mailbox->fd()});
    try {
        process->control().activate(resources, attachment.settings, kDeviceControlTimeout);
    } catch (const ipc::DeviceControlError& e) {
        // Most likely it died: say how, as the supervisor would once the guest runs.
        process->wait_or_kill(kDeviceControlTimeout);
        const std::string how = process->reap();
        throw DeviceCrashed(fmt::format("{} (pid {}) {} during activation ({})", name, process->pid(), how, e.what()),
                            fmt::format("{} pid={} {}", name, process->pid(), process->failure_fields()));
    }
    process->watch_threads();  // its threads are up now; the hang check reads them
    spdlog::debug(
        "[{}] device process pid {} jailed and active in {} us", name, process->pid(),
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());

    const pid_t pid = process->pid();
    std::map<uint64_t, unsigned> shadowed;
    for (const auto& shadow : attachment.kind.shadows) shadowed.emplace(shadow.offset, shadow.shadow);
    record.proxy = std::make_shared<DeviceProxy>(
        name, mailbox, kDeviceAnswerBackstop, shadowed, [&vm, pid](const std::string& device, const std::string& why) {
            vm.board.request_stop({StopKind::DeviceCrash, fmt::format("{} (pid {}): {}", device, pid, why),
                                   fmt::format("{} pid={} reason=bad-reply", device, pid)});
        });
    record.process = std::move(process);
    return record.proxy;
}

// --disable-sandbox: the same device object in brig's own process, on the bus directly.
std::shared_ptr<BusDevice> start_in_process(Vm& vm, const DeviceAttachment& attachment,
                                            const std::vector<ipc::NamedFd>& resources, AttachedDevice& record) {
    std::map<std::string, base::UniqueFd> owned;
    for (const auto& resource : resources) {
        base::UniqueFd fd(fcntl(resource.fd, F_DUPFD_CLOEXEC, 0));
        if (!fd) base::throw_errno("fcntl(" + attachment.name + " " + resource.name + ", F_DUPFD_CLOEXEC)");
        owned.emplace(resource.name, std::move(fd));
    }
    auto service = devices::create_device_service(attachment.kind, attachment.name);
    if (vm.vsock && &attachment.kind == &ipc::kinds::kVirtioVsock) {
        service->set_host_connector([on_connect = guest_connects_host(vm)](uint32_t guest_port, uint32_t host_port) {
            on_connect("", guest_port, host_port);
            return true;
        });
    }
    try {
        service->configure(attachment.settings);
        service->activate(std::move(owned));
    } catch (const std::runtime_error& e) {
        throw HostError(attachment.name + ": " + e.what());
    }
    record.in_process = std::make_shared<InProcessDevice>(attachment.name, std::move(service));
    return record.in_process;
}

// One device: its interrupt line, and for virtio the guest memory and one ioeventfd
// per queue (KVM signals it on a QueueNotify write of that queue's index, so a notify
// never leaves the kernel); then the device itself, jailed or in-process.
void attach_device(Vm& vm, const RunOptions& options, DeviceAttachment attachment) {
    const std::string& name = attachment.name;
    AttachedDevice record;
    record.kind = std::string(attachment.kind.name);
    std::vector<ipc::NamedFd> resources = std::move(attachment.resources);
    base::UniqueFd irq = base::make_eventfd(name + " irq");
    vm.vm_fd.register_irqfd(irq.get(), attachment.irq);
    resources.push_back({std::string(ipc::resource::kIrq), irq.get()});
    attachment.owned.fds.push_back(std::move(irq));
    if (attachment.kind.is_virtio()) {
        resources.push_back({std::string(ipc::resource::kGuestMemory), vm.memory.memfd()});
        for (unsigned q = 0; q < attachment.kind.queue_count; ++q) {
            base::UniqueFd notify = base::make_eventfd(name + " queue notify");
            vm.vm_fd.register_ioeventfd(notify.get(), attachment.base + virtio::kMmioQueueNotify, q);
            resources.push_back({ipc::resource::queue(q), notify.get()});
            attachment.owned.fds.push_back(std::move(notify));
        }
    }
    std::shared_ptr<BusDevice> on_bus =
        options.disable_sandbox ? start_in_process(vm, attachment, resources, record)
                                : start_device_process(vm, options, attachment, std::move(resources), record);
    // Any UART's output is a sign of life; only COM1's bytes are the ones on brig's stdout.
    if (&attachment.kind == &ipc::kinds::kSerial)
        on_bus = std::make_shared<ConsoleActivityWatch>(
            on_bus, note_console_output(vm),
            attachment.base == layout::kCom1Port ? watch_console_bytes(options) : std::function<void(uint8_t)>{});
    attachment.bus->insert(on_bus, attachment.base, attachment.size);
    record.owned = std::move(attachment.owned);
    vm.devices.push_back(std::move(record));
}

// A console device's output and input resources: the output as device_console_output
// makes it; the input from the operator's stdin (a pipe brig relays into), or from the
// socket of a type=unix output, which goes both ways.
// `port` is the guest's name for it (ttyS1, hvc0), which tags its syslog lines.
void add_console_resources(Vm& vm, const RunOptions& options, const std::string& name, const std::string& port,
                           const ConsoleOutput& output, bool reads_stdin, std::vector<ipc::NamedFd>& resources,
                           DeviceResources& owned, base::UniqueFd& output_pipe, base::UniqueFd& input) {
    const std::string tag = options.syslog_tag.value_or("brig") + "-" + port;
    const int output_fd = device_console_output(name, output, owned, output_pipe, tag);
    if (output_fd >= 0) resources.push_back({std::string(ipc::resource::kOutput), output_fd});
    if (reads_stdin) {
        input = console_input_pipe(vm);
        resources.push_back({std::string(ipc::resource::kInput), input.get()});
    } else if (output.kind == ConsoleOutput::Kind::Unix) {
        resources.push_back({std::string(ipc::resource::kInput), output_fd});
    }
}

// COM1..COM4 (num 1..4): each its own jailed serial device; COM1 is "serial".
void attach_com_port(Vm& vm, const RunOptions& options, unsigned num, const ConsoleOutput& output, bool reads_stdin) {
    const layout::ComPort& com = layout::kComPorts[num - 1];
    const std::string name = num == 1 ? "serial" : "serial" + std::to_string(num);
    DeviceAttachment serial{ipc::kinds::kSerial, name, {}, &vm.pio, com.port, layout::kComSize, com.irq};
    base::UniqueFd output_pipe, input;  // closed once the device holds them
    add_console_resources(vm, options, name, "ttyS" + std::to_string(num - 1), output, reads_stdin, serial.resources,
                          serial.owned, output_pipe, input);
    attach_device(vm, options, std::move(serial));
    if (num != 1) vm.more_com_ports.push_back(num);
}

void attach_serial(Vm& vm, const RunOptions& options, bool forward_stdin) {
    attach_com_port(vm, options, 1, options.serial, forward_stdin);
    for (const auto& [num, output] : options.more_serial_ports) attach_com_port(vm, options, num, output, false);
}

// The next virtio-mmio window, declared in the DSDT.
void attach_virtio(Vm& vm, const RunOptions& options, const ipc::DeviceKind& kind, const std::string& name,
                   std::vector<ipc::NamedFd> resources, DeviceResources owned = {}, ipc::Settings settings = {}) {
    const auto index = static_cast<uint32_t>(vm.virtio_windows.size());
    if (index >= layout::kVirtioMmioWindows)  // the CLI's disk limit leaves room for every other device
        throw std::logic_error("more virtio devices than virtio-mmio windows");
    const uint64_t base = layout::kVirtioMmioBase + index * layout::kVirtioMmioStride;
    const uint32_t irq = layout::kVirtioFirstIrq + index;
    attach_device(vm, options,
                  {kind, name, std::move(resources), &vm.mmio, base, virtio::kMmioWindowSize, irq, std::move(owned),
                   std::move(settings)});
    vm.virtio_windows.push_back({base, virtio::kMmioWindowSize, irq});
}

// hvc<index>: "virtio-console" for hvc0, then "virtio-console1", ...
void attach_virtio_console(Vm& vm, const RunOptions& options, unsigned index, const ConsoleOutput& output,
                           bool reads_stdin) {
    const std::string name = index == 0 ? "virtio-console" : "virtio-console" + std::to_string(index);
    std::vector<ipc::NamedFd> fds;
    DeviceResources owned;
    base::UniqueFd output_pipe, input;  // closed once the device holds them
    add_console_resources(vm, options, name, "hvc" + std::to_string(index), output, reads_stdin, fds, owned,
                          output_pipe, input);
    attach_virtio(vm, options, ipc::kinds::kVirtioConsole, name, std::move(fds), std::move(owned));
}

void attach_virtio_devices(Vm& vm, const RunOptions& options) {
    // Every image opened, checked and locked before any device starts: a refused one costs nothing.
    std::vector<base::UniqueFd> images;
    for (const auto& disk : options.disks) images.push_back(disk::open_image(disk));
    for (size_t i = 0; i < images.size(); ++i) {
        const int fd = images[i].get();
        DeviceResources owned;
        owned.fds.push_back(std::move(images[i]));  // the lock lives as long as the VM
        attach_virtio(vm, options, ipc::kinds::kVirtioBlk, "virtio-blk" + std::to_string(i),
                      {{std::string(ipc::resource::kDisk), fd}}, std::move(owned));
    }
    // Every TAP attached and every MAC known before any device starts, as for the disks.
    // Passed fds are adopted first, before brig opens anything that could take a number
    // the caller meant; the devices keep the order of the command line.
    std::vector<net::Tap> taps(options.nets.size());
    for (size_t i = 0; i < options.nets.size(); ++i)
        if (options.nets[i].tap_fd) taps[i] = net::open_tap(options.nets[i]);
    for (size_t i = 0; i < options.nets.size(); ++i)
        if (!options.nets[i].tap_fd) taps[i] = net::open_tap(options.nets[i]);
    std::vector<ipc::MacAddress> macs;
    for (size_t i = 0; i < options.nets.size(); ++i) {
        const NetOption& net = options.nets[i];
        const ipc::MacAddress mac = net.mac ? *net.mac : net::mac_for_tap(taps[i].name);
        if (std::find(macs.begin(), macs.end(), mac) != macs.end())
            throw InvalidArgument("--net: two network devices would have MAC " + mac.to_string() + " (give mac=)");
        macs.push_back(mac);
    }
    for (size_t i = 0; i < taps.size(); ++i) {
        const int fd = taps[i].fd.get();
        DeviceResources owned;
        owned.fds.push_back(std::move(taps[i].fd));
        spdlog::debug("[virtio-net{}] TAP {}, MAC {}", i, taps[i].name, macs[i].to_string());
        attach_virtio(vm, options, ipc::kinds::kVirtioNet, "virtio-net" + std::to_string(i),
                      {{std::string(ipc::resource::kTap), fd}}, std::move(owned),
                      {{std::string(ipc::setting::kMac), macs[i].to_string()}});
    }
    if (options.rng) attach_virtio(vm, options, ipc::kinds::kVirtioRng, "virtio-rng", {});
    if (options.virtio_console)
        attach_virtio_console(vm, options, 0, *options.virtio_console,
                              stdin_console(options) == StdinConsole::VirtioConsole);
    for (size_t i = 0; i < options.more_consoles.size(); ++i)
        attach_virtio_console(vm, options, static_cast<unsigned>(i + 1), options.more_consoles[i], false);
}

// --vsock: the device, and brig's broker for its host side on unix sockets. The
// socket is bound first, so a path in use is refused before any device starts.
void attach_vsock(Vm& vm, const RunOptions& options) {
    if (!options.vsock) return;
    vsock::Broker::Config config;
    config.socket_path = options.vsock->socket;
    config.listener = vsock::listen_on(options.vsock->socket);
    config.ready_port = options.ready_port;
    config.on_ready = [&vm, port = options.ready_port.value_or(0)] {
        vm.guest_ready = true;
        if (control::EventLog* events = vm.events) events->append("guest-ready", fmt::format(",\"port\":{}", port));
    };
    vm.vsock_cid = options.vsock->cid;
    if (vm.thread_filters)
        config.on_thread_start = [&filter = vm.thread_filters->vsock] { install_thread_filter("vsock", filter); };
    vm.vsock = std::make_shared<vsock::Broker>(std::move(config));
    attach_virtio(vm, options, ipc::kinds::kVirtioVsock, "virtio-vsock", {}, {},
                  {{std::string(ipc::setting::kGuestCid), std::to_string(options.vsock->cid)}});
    const AttachedDevice& device = vm.devices.back();
    vsock::Broker::ToDevice to_device;
    if (device.process) {
        to_device = [control = &device.process->control()](uint32_t guest_port, uint32_t host_port, int fd) {
            control->host_connection(guest_port, host_port, fd, kDeviceControlTimeout);
        };
    } else {
        to_device = [in_process = device.in_process](uint32_t guest_port, uint32_t host_port, int fd) {
            in_process->host_connection(guest_port, host_port, fd);
        };
    }
    vm.vsock->start(std::move(to_device));
    spdlog::debug("[virtio-vsock] guest CID {}, host socket {}", options.vsock->cid, options.vsock->socket.string());
}

void prepare_sandbox(Vm& vm, const RunOptions& options) {
    if (options.disable_sandbox) {
        spdlog::warn(
            "[sandbox] *** --disable-sandbox: devices run INSIDE the brig process with no jail and no "
            "seccomp filter; a guest that exploits a device owns brig. Use only for debugging. ***");
        return;
    }
    vm.policy_dir = policy_dir(options);
    vm.device_executable = find_device_executable();
    vm.thread_filters = compile_vmm_policies(vm.policy_dir);
    if (!options.jail_user) {
        const size_t devices = 1 + options.more_serial_ports.size() + options.disks.size() + options.nets.size() +
                               (options.rng ? 1 : 0) + (options.virtio_console ? 1 : 0) + options.more_consoles.size() +
                               (options.vsock ? 1 : 0);
        if (options.jail_ids.size() < devices)
            throw InvalidArgument("--jail-ids " + options.jail_ids.str() + ": " +
                                  std::to_string(options.jail_ids.size()) + " ids for " + std::to_string(devices) +
                                  " devices (one id per device)");
        vm.jail_ids = std::make_unique<JailIdAllocator>(kJailIdLockDir, options.jail_ids);
    }
    if (options.cgroup_parent)
        vm.cgroups = std::make_unique<DeviceCgroups>(DeviceCgroups::locate(*options.cgroup_parent));
    install_vmm_sigsys_reporter();
    vm.ipc = std::make_unique<ipc::IpcThread>();
}

uint64_t write_acpi_tables(const Vm& vm, const CpuTopology& topology) {
    acpi::AcpiConfig config;
    config.num_cpus = topology.count();
    config.apic_ids = topology.apic_ids();
    config.com1 = true;
    config.serial_ports = vm.more_com_ports;
    config.pvpanic = true;
    config.power_button_gsi = layout::kGedIrq;
    config.virtio_mmio = vm.virtio_windows;
    const auto blob = acpi::build_acpi_tables(config, layout::kAcpiTables);
    vm.memory.write(blob.base, blob.bytes);
    return blob.rsdp_addr;
}

// The guest-memory half of a boot: ACPI tables, then the kernel with its initrd,
// command line and boot information. The same steps on every reboot in place.
boot::BootEntry write_boot_images(const Vm& vm, const boot::BootFiles& files, const std::string& cmdline,
                                  const CpuTopology& topology) {
    const uint64_t rsdp = write_acpi_tables(vm, topology);
    return boot::load_guest_kernel(vm.memory, files, cmdline, rsdp);
}

void configure_vcpu(const Vm& vm, const VcpuFd& vcpu, const CpuTopology& topology,
                    const std::vector<kvm_cpuid_entry2>& cpuid) {
    vcpu.set_cpuid(normalize_cpuid(cpuid, vcpu.index(), topology));
    vcpu.set_msrs(boot_msrs());

    kvm_fpu fpu{};
    fpu.fcw = 0x37f;     // x87 default control word: all exceptions masked
    fpu.mxcsr = 0x1f80;  // SSE default: all exceptions masked
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

// --cpu-affinity: every CPU named must be one brig may run on (its own affinity, as a
// cgroup or taskset left it), else exit 35 before any thread starts.
void check_cpu_affinity(const RunOptions& options) {
    if (!options.cpu_affinity) return;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) base::throw_errno("sched_getaffinity");
    for (unsigned v = 0; v < options.cpus; ++v)
        for (unsigned cpu : options.cpu_affinity->for_vcpu(v))
            if (!CPU_ISSET(cpu, &allowed))
                throw InvalidArgument("--cpu-affinity: host CPU " + std::to_string(cpu) +
                                      " is not one brig may run on");
}

// The pinning a vCPU thread applies to itself first, before its filter.
std::function<void()> pin_vcpu(const RunOptions& options, unsigned index) {
    if (!options.cpu_affinity || options.cpu_affinity->for_vcpu(index).empty()) return {};
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned cpu : options.cpu_affinity->for_vcpu(index)) CPU_SET(cpu, &set);
    return [set, index] {
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            base::throw_errno("vCPU " + std::to_string(index) + ": sched_setaffinity (--cpu-affinity)");
    };
}

void create_vcpus(Vm& vm, const RunOptions& options, const boot::BootEntry& entry) {
    const CpuTopology& topology = options.topology;
    Vcpu::install_kick_handler();
    // Each vCPU thread puts itself under the vCPU filter before its first KVM_RUN.
    std::function<void()> on_thread_start;
    std::function<void()> before_first_run;
    if (vm.thread_filters) {
        on_thread_start = [&filter = vm.thread_filters->vcpu] { install_thread_filter("vcpu", filter); };
        before_first_run = [] {
            if (!supervisor_threads_filtered())
                throw std::logic_error(
                    "the guest would run before brig's main and IPC threads are under their seccomp filters");
        };
    }
    const auto cpuid = vm.kvm.supported_cpuid();
    const VcpuExitContext ctx{vm.pio, vm.mmio, vm.memory};
    for (unsigned i = 0; i < topology.count(); ++i) {
        VcpuFd fd = VcpuFd::create(vm.kvm, vm.vm_fd, i, topology.apic_id(i));
        configure_vcpu(vm, fd, topology, cpuid);
        if (i == 0) {
            // Only the boot CPU gets registers; the others wait for INIT/SIPI from the guest.
            kvm_regs regs{};
            kvm_sregs sregs = fd.get_sregs();
            boot::setup_boot_cpu(vm.memory, entry, regs, sregs);
            fd.set_sregs(sregs);
            fd.set_regs(regs);
        }
        // Captured now, before any thread runs under a filter (kvm/reset_state.h).
        std::optional<VcpuResetState> reset_state;
        if (vm.reboot) reset_state = VcpuResetState::capture(vm.kvm, fd);
        std::function<void()> start = on_thread_start;
        if (auto pin = pin_vcpu(options, i)) {
            start = [pin, on_thread_start] {
                pin();
                if (on_thread_start) on_thread_start();
            };
        }
        vm.board.add_vcpu(std::make_unique<Vcpu>(std::move(fd), ctx, vm.board.stop_handler(), start, before_first_run,
                                                 std::move(reset_state)));
    }
}

}  // namespace

void reload_boot_images(const Vm& vm) {
    const RebootPlan& plan = *vm.reboot;
    const boot::BootEntry entry = write_boot_images(vm, plan.files, plan.cmdline, vm.topology);
    if (entry.entry_point != plan.entry.entry_point || entry.boot_info_addr != plan.entry.boot_info_addr ||
        entry.protocol != plan.entry.protocol)
        throw HostError("reboot: the kernel no longer loads where it did at the first boot");
    // The boot GDT and page tables; the registers that point at them are the boot
    // CPU's saved state (kvm/reset_state.h), so these scratch ones are dropped.
    kvm_regs regs{};
    kvm_sregs sregs{};
    boot::setup_boot_cpu(vm.memory, entry, regs, sregs);
}

std::unique_ptr<Vm> build_vm(const RunOptions& options) {
    const bool forward_stdin = stdin_console(options) == StdinConsole::Serial;
    check_cpu_affinity(options);
    auto vm = create_vm_with_memory(options);
    register_guest_memory(*vm);
    prepare_sandbox(*vm, options);
    attach_platform_devices(*vm);
    attach_serial(*vm, options, forward_stdin);
    attach_virtio_devices(*vm, options);
    attach_vsock(*vm, options);
    boot::BootFiles files = boot::open_boot_files({options.kernel, options.initrd, options.cmdline, 0});
    vm->topology = options.topology;
    const boot::BootEntry entry = write_boot_images(*vm, files, options.cmdline, vm->topology);
    if (options.on_reboot == RunOptions::OnReboot::Restart)
        vm->reboot.emplace(RebootPlan{std::move(files), options.cmdline, entry, VmResetState::capture(vm->vm_fd),
                                      options.reboot_limit()});
    spdlog::debug("[boot] {} kernel, entry {:#x}, boot info at {:#x}",
                  entry.protocol == boot::BootProtocol::Pvh ? "PVH" : "Linux 64-bit", entry.entry_point,
                  entry.boot_info_addr);
    create_vcpus(*vm, options, entry);
    return vm;
}

}  // namespace brig
