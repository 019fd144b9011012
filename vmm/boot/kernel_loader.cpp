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

KernelImage read_kernel(const GuestMemory& mem, const std::filesystem::path& path) {
    const HostFile file = HostFile::open("--kernel", path);
    if (file.size() == 0) file.fail("is truncated: the file is empty");
    // Checked before reading, so a huge file never gets staged in host memory.
    if (file.size() > mem.size()) {
        file.fail("does not fit in guest memory (" + mib(mem.size()) + "): it is " + mib(file.size()));
    }
    return {file.label(), file.read_all()};
}

std::optional<InitrdPlacement> load_optional_initrd(const GuestMemory& mem, const BootConfig& config,
                                                    uint64_t kernel_end, uint64_t limit) {
    if (!config.initrd) return std::nullopt;
    return load_initrd(mem, *config.initrd, kernel_end, limit);
}

BootEntry boot_pvh(const GuestMemory& mem, const KernelImage& image, const BootConfig& config) {
    const LoadedKernel kernel = load_elf_pvh(mem, image);
    const uint64_t cmdline = write_cmdline(mem, config.cmdline, layout::kCmdlineMax);
    const auto initrd = load_optional_initrd(mem, config, kernel.end, std::numeric_limits<uint64_t>::max());
    const uint64_t start_info = write_pvh_start_info(mem, {cmdline, initrd, config.rsdp_addr});
    return {BootProtocol::Pvh, kernel.entry_point, start_info};
}

BootEntry boot_linux64(const GuestMemory& mem, const KernelImage& image, const BootConfig& config) {
    const BzImage bz = load_bzimage(mem, image);
    const uint64_t cmdline = write_cmdline(mem, config.cmdline, bz.header.cmdline_size);
    // initrd_addr_max is the highest address the initrd may occupy, inclusive.
    const uint64_t initrd_limit = uint64_t{bz.header.initrd_addr_max} + 1;
    const auto initrd = load_optional_initrd(mem, config, bz.kernel.end, initrd_limit);
    const uint64_t zero_page = write_zero_page(mem, {bz.header, cmdline, initrd, config.rsdp_addr});
    return {BootProtocol::Linux64, bz.kernel.entry_point, zero_page};
}

}  // namespace

BootEntry load_guest_kernel(const GuestMemory& mem, const BootConfig& config) {
    const KernelImage image = read_kernel(mem, config.kernel);
    // A PVH-capable vmlinux is an ELF; a bzImage starts with a boot sector and "HdrS".
    if (looks_like_elf(image.bytes)) return boot_pvh(mem, image, config);
    if (looks_like_bzimage(image.bytes)) return boot_linux64(mem, image, config);
    image.fail("is neither an ELF with a PVH entry note nor a bzImage");
}

}  // namespace brig::boot
