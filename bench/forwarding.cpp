// How much forwarding an MMIO read to a device process costs, against handling the same
// KVM exit in-process. One run measures, on the same guest loop:
//   (a) in-process: the vCPU thread answers KVM_EXIT_MMIO itself;
//   (b) the mailbox: the exit is forwarded to a forked device process, pinned to the
//       vCPU's CPU and to another CPU;
//   (c) the Cap'n Proto slow path (DeviceControl::read), for comparison.
// Each sample is one KVM_RUN round trip: guest entry, the read, the exit, the answer.
// Prints medians and p99 in microseconds; asserts nothing.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.h"
#include "ipc/device_control.h"
#include "ipc/device_service.h"
#include "ipc/mailbox.h"

using namespace brig;
using namespace brig::ipc;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kMmioBase = 0xd0000000;
constexpr uint64_t kGuestCode = 0x1000;
constexpr size_t kGuestRam = 0x10000;
constexpr uint64_t kStopOffset = 0xfff;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "brig-bench-forwarding: %s\n", base::errno_message(what).c_str());
    std::exit(1);
}

void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

// A 32-bit flat protected-mode guest: `1: mov eax, [0xd0000000]; jmp 1b`.
class MmioLoopVm {
public:
    MmioLoopVm() {
        kvm_ = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm_ < 0) die("open /dev/kvm");
        vm_ = ::ioctl(kvm_, KVM_CREATE_VM, 0);
        if (vm_ < 0) die("KVM_CREATE_VM");
        ::ioctl(vm_, KVM_SET_TSS_ADDR, 0xfffbd000ul);  // Intel without unrestricted guest; harmless elsewhere
        ram_ = static_cast<uint8_t*>(
            ::mmap(nullptr, kGuestRam, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (ram_ == MAP_FAILED) die("mmap guest RAM");
        const uint8_t code[] = {0xa1, 0x00, 0x00, 0x00, 0xd0,  // mov eax, [0xd0000000]
                                0xeb, 0xf9};                   // jmp back to the mov
        std::memcpy(ram_ + kGuestCode, code, sizeof code);
        kvm_userspace_memory_region region{};
        region.slot = 0;
        region.guest_phys_addr = 0;
        region.memory_size = kGuestRam;
        region.userspace_addr = reinterpret_cast<uint64_t>(ram_);
        if (::ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region) != 0) die("KVM_SET_USER_MEMORY_REGION");
        vcpu_ = ::ioctl(vm_, KVM_CREATE_VCPU, 0);
        if (vcpu_ < 0) die("KVM_CREATE_VCPU");
        const int run_size = ::ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (run_size <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
        run_ = static_cast<kvm_run*>(
            ::mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0));
        if (run_ == MAP_FAILED) die("mmap kvm_run");

        kvm_sregs sregs{};
        if (::ioctl(vcpu_, KVM_GET_SREGS, &sregs) != 0) die("KVM_GET_SREGS");
        auto flat = [](kvm_segment& s, uint16_t selector, uint8_t type) {
            s.base = 0;
            s.limit = 0xffffffff;
            s.selector = selector;
            s.type = type;
            s.present = 1;
            s.dpl = 0;
            s.db = 1;
            s.s = 1;
            s.l = 0;
            s.g = 1;
        };
        flat(sregs.cs, 0x08, 0xb);
        flat(sregs.ds, 0x10, 0x3);
        flat(sregs.es, 0x10, 0x3);
        flat(sregs.ss, 0x10, 0x3);
        flat(sregs.fs, 0x10, 0x3);
        flat(sregs.gs, 0x10, 0x3);
        sregs.cr0 |= 1;  // protected mode, no paging
        if (::ioctl(vcpu_, KVM_SET_SREGS, &sregs) != 0) die("KVM_SET_SREGS");
        kvm_regs regs{};
        regs.rip = kGuestCode;
        regs.rflags = 2;
        if (::ioctl(vcpu_, KVM_SET_REGS, &regs) != 0) die("KVM_SET_REGS");
    }

    // Runs `count` MMIO read exits, answering each with answer(offset, size); returns
    // the time of each KVM_RUN round trip in microseconds.
    std::vector<double> run(size_t count, const std::function<uint64_t(uint64_t, uint32_t)>& answer) {
        std::vector<double> samples;
        samples.reserve(count);
        while (samples.size() < count) {
            const auto start = Clock::now();
            if (::ioctl(vcpu_, KVM_RUN, 0) != 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                die("KVM_RUN");
            }
            if (run_->exit_reason != KVM_EXIT_MMIO) {
                std::fprintf(stderr, "brig-bench-forwarding: unexpected exit reason %u\n", run_->exit_reason);
                std::exit(1);
            }
            auto& mmio = run_->mmio;
            if (!mmio.is_write) {
                const uint64_t value = answer(mmio.phys_addr - kMmioBase, mmio.len);
                std::memcpy(mmio.data, &value, mmio.len);
            }
            samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        }
        return samples;
    }

private:
    int kvm_ = -1, vm_ = -1, vcpu_ = -1;
    uint8_t* ram_ = nullptr;
    kvm_run* run_ = nullptr;
};

struct Stats {
    double median, p99;
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

void print(const char* label, const Stats& s, double baseline) {
    std::printf("%-44s median %8.2f us   p99 %8.2f us   ratio %5.2f\n", label, s.median, s.p99, s.median / baseline);
    std::fflush(stdout);
}

// A device process answering mailbox reads; exits when it sees a write to kStopOffset.
pid_t fork_mailbox_device(const SharedMailbox& mailbox, int cpu) {
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid != 0) return pid;
    pin_to_cpu(cpu);
    auto mine = SharedMailbox::attach(base::UniqueFd(::dup(mailbox.fd())));
    MailboxServer server(mine);
    server.serve([&](const Access& a) -> uint64_t {
        if (a.op == AccessOp::Write && a.offset == kStopOffset) server.stop();
        return 0x12345678 + a.offset;
    });
    ::_exit(0);
}

class BenchService : public DeviceService {
public:
    void activate(std::map<std::string, base::UniqueFd>) override {}
    void reset() override {}  // never asked: the benchmark does not reboot
    uint64_t read(uint64_t offset, uint8_t) override { return 0x12345678 + offset; }
};

pid_t fork_capnp_device(base::UniqueFd socket, int cpu) {
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid != 0) return pid;
    pin_to_cpu(cpu);
    BenchService service;
    serve_device(std::move(socket), service, {});
    ::_exit(0);
}

void reap(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
    const size_t samples = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    const int other_cpu = cpus > 1 ? 1 : 0;
    pin_to_cpu(0);
    std::printf("brig-bench-forwarding: %zu MMIO read exits per case, vCPU on CPU 0, %ld CPUs\n", samples, cpus);

    // Device processes are forked before any thread starts (the IPC thread comes last).
    auto mailbox = SharedMailbox::create();
    MmioLoopVm vm;
    auto in_process = [](uint64_t offset, uint32_t) { return 0x12345678 + offset; };

    vm.run(2000, in_process);  // warm up
    const Stats base = stats(vm.run(samples, in_process));
    print("(a) in-process KVM MMIO read exit", base, base.median);

    for (int cpu : {0, other_cpu}) {
        MailboxClient client(mailbox, std::chrono::milliseconds(1000));
        const pid_t device = fork_mailbox_device(mailbox, cpu);
        auto forwarded = [&](uint64_t offset, uint32_t size) { return client.read(offset, size); };
        vm.run(2000, forwarded);
        const std::string label = "(b) mailbox, device process on CPU " + std::to_string(cpu);
        print(label.c_str(), stats(vm.run(samples, forwarded)), base.median);
        client.post_write(kStopOffset, 1, 0);
        reap(device);
    }

    {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) die("socketpair");
        base::UniqueFd vmm_end(fds[0]);
        const pid_t device = fork_capnp_device(base::UniqueFd(fds[1]), other_cpu);
        IpcThread ipc;
        ipc.run_on_thread([&] { pin_to_cpu(other_cpu == 0 ? 0 : 1); });
        auto control = ipc.connect("bench", std::move(vmm_end), {});
        auto slow = [&](uint64_t offset, uint32_t size) {
            return control->read(offset, static_cast<uint8_t>(size), std::chrono::milliseconds(1000));
        };
        const size_t n = std::max<size_t>(samples / 4, 100);
        vm.run(500, slow);
        const std::string label = "(c) capnp DeviceControl::read, device on CPU " + std::to_string(other_cpu);
        print(label.c_str(), stats(vm.run(n, slow)), base.median);
        control->shutdown(std::chrono::milliseconds(1000));
        reap(device);
    }

    // The in-process case once more, to show the baseline did not drift during the run.
    print("(a) in-process again", stats(vm.run(samples, in_process)), base.median);
    return 0;
}
