// Detects the kernel format and runs the loader for its boot protocol.
#include "vmm/boot/kernel_loader.h"

#include <limits>

#include "vmm/boot/bzimage_loader.h"
#include "vmm/boot/cmdline.h"
#include "vmm/boot/elf_pvh_loader.h"
#include "vmm/boot/host_file.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/pvh_start_info.h"
#include "vmm/boot/zero_page.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

KernelImage read_kernel(const GuestMemory& mem, const HostFile& file) {
    if (file.size() == 0) file.fail("is truncated: the file is empty");
    // Checked before reading, so a huge file never gets staged in host memory.
    if (file.size() > mem.size()) {
        file.fail("does not fit in guest memory (" + mib(mem.size()) + "): it is " + mib(file.size()));
    }
    return {file.label(), file.read_all()};
}

// What the boot protocols put beside the kernel.
struct BootExtras {
    const HostFile* initrd;
    const std::string& cmdline;
    uint64_t rsdp_addr;
};

std::optional<InitrdPlacement> load_optional_initrd(const GuestMemory& mem, const BootExtras& extras,
                                                    uint64_t kernel_end, uint64_t limit) {
    if (!extras.initrd) return std::nullopt;
    return load_initrd(mem, *extras.initrd, kernel_end, limit);
}

BootEntry boot_pvh(const GuestMemory& mem, const KernelImage& image, const BootExtras& extras) {
    const LoadedKernel kernel = load_elf_pvh(mem, image);
    const uint64_t cmdline = write_cmdline(mem, extras.cmdline, layout::kCmdlineMax);
    const auto initrd = load_optional_initrd(mem, extras, kernel.end, std::numeric_limits<uint64_t>::max());
    const uint64_t start_info = write_pvh_start_info(mem, {cmdline, initrd, extras.rsdp_addr});
    return {BootProtocol::Pvh, kernel.entry_point, start_info};
}

BootEntry boot_linux64(const GuestMemory& mem, const KernelImage& image, const BootExtras& extras) {
    const BzImage bz = load_bzimage(mem, image);
    const uint64_t cmdline = write_cmdline(mem, extras.cmdline, bz.header.cmdline_size);
    // initrd_addr_max is the highest address the initrd may occupy, inclusive.
    const uint64_t initrd_limit = uint64_t{bz.header.initrd_addr_max} + 1;
    const auto initrd = load_optional_initrd(mem, extras, bz.kernel.end, initrd_limit);
    const uint64_t zero_page = write_zero_page(mem, {bz.header, cmdline, initrd, extras.rsdp_addr});
    return {BootProtocol::Linux64, bz.kernel.entry_point, zero_page};
}

}  // namespace

BootFiles open_boot_files(const BootConfig& config) {
    BootFiles files{HostFile::open("--kernel", config.kernel), std::nullopt};
    if (config.initrd) files.initrd.emplace(HostFile::open("--initrd", *config.initrd));
    return files;
}

BootEntry load_guest_kernel(const GuestMemory& mem, const BootFiles& files, const std::string& cmdline,
                            uint64_t rsdp_addr) {
    const KernelImage image = read_kernel(mem, files.kernel);
    const BootExtras extras{files.initrd ? &*files.initrd : nullptr, cmdline, rsdp_addr};
    // A PVH-capable vmlinux is an ELF; a bzImage starts with a boot sector and "HdrS".
    if (looks_like_elf(image.bytes)) return boot_pvh(mem, image, extras);
    if (looks_like_bzimage(image.bytes)) return boot_linux64(mem, image, extras);
    image.fail("is neither an ELF with a PVH entry note nor a bzImage");
}

BootEntry load_guest_kernel(const GuestMemory& mem, const BootConfig& config) {
    const BootFiles files = open_boot_files(config);
    return load_guest_kernel(mem, files, config.cmdline, config.rsdp_addr);
}

}  // namespace brig::boot
