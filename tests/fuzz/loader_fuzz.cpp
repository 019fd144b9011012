// Target 6: the kernel loaders (bzImage and ELF/PVH, vmm/boot/) and the initrd
// placement, through load_guest_kernel() as brig calls it: the input is a kernel
// file, maybe an initrd file and a command line. Kernel files are hostile: the only
// acceptable failure is an InvalidArgument (one line, exit 35). A kernel that loads
// must have its entry point and boot information inside guest memory, and the boot
// vCPU must then be set up without error.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "base/unique_fd.h"
#include "vmm/boot/host_file.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/error.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/memory/layout.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

using namespace brig;
using namespace brig::boot;
using namespace brig::fuzz;

namespace {

constexpr uint64_t kGuestBytes = 32ull << 20;

// A file with these bytes, opened the way brig opens --kernel and --initrd.
HostFile file_with(std::string_view flag, std::span<const uint8_t> bytes) {
    base::UniqueFd fd(::memfd_create("fuzz-image", MFD_CLOEXEC));
    if (!fd) throw std::runtime_error("memfd_create");
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n <= 0) throw std::runtime_error("write");
        done += static_cast<size_t>(n);
    }
    return HostFile::open(flag, "/proc/self/fd/" + std::to_string(fd.get()));
}

}  // namespace

BRIG_FUZZ_TARGET(loader) {
    FuzzInput in(data, size);
    static const GuestMemory memory = GuestMemory::create(kGuestBytes);
    const bool with_initrd = in.flag();
    const std::string cmdline = in.text(256);
    const auto initrd_bytes = with_initrd ? in.bytes(8192) : std::span<const uint8_t>{};
    const auto kernel_bytes = in.rest();
    try {
        BootFiles files{file_with("--kernel", kernel_bytes), std::nullopt};
        if (with_initrd) files.initrd = file_with("--initrd", initrd_bytes);
        const BootEntry entry = load_guest_kernel(memory, files, cmdline, layout::kAcpiTables);
        if (entry.entry_point >= memory.size()) fail("an entry point outside guest memory");
        if (entry.boot_info_addr == 0 || entry.boot_info_addr >= memory.size())
            fail("boot information outside guest memory");
        kvm_regs regs{};
        kvm_sregs sregs{};
        setup_boot_cpu(memory, entry, regs, sregs);
    } catch (const InvalidArgument&) {
        // A bad image: one line, exit 35.
    }
    return 0;
}
