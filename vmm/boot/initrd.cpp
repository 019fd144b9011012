#include "vmm/boot/initrd.h"

#include <algorithm>

#include "vmm/boot/checked_math.h"
#include "vmm/boot/host_file.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {
constexpr uint64_t kPageSize = 4096;
}

InitrdPlacement load_initrd(const GuestMemory& mem, const std::filesystem::path& path, uint64_t kernel_end,
                            uint64_t limit) {
    return load_initrd(mem, HostFile::open("--initrd", path), kernel_end, limit);
}

InitrdPlacement load_initrd(const GuestMemory& mem, const HostFile& file, uint64_t kernel_end, uint64_t limit) {
    if (file.size() == 0) file.fail("is empty");

    const uint64_t top = std::min({limit, layout::kMmioHoleStart, mem.low_ram_end()});
    // Nothing of the boot structures below 1 MiB may be overwritten either.
    const uint64_t bottom = std::max(kernel_end, layout::kHighMemory);
    if (file.size() > top || align_down(top - file.size(), kPageSize) < bottom) {
        file.fail("(" + std::to_string(file.size()) + " bytes) does not fit below " + hex(top) +
                  " above the kernel's end at " + hex(bottom));
    }
    const uint64_t addr = align_down(top - file.size(), kPageSize);
    file.read_into(mem.slice(addr, file.size()));
    return {addr, file.size()};
}

}  // namespace brig::boot
