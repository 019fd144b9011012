// The initial ramdisk: read straight from its file into guest memory (it can be large,
// so it is never staged in a host buffer).
#pragma once

#include <cstdint>
#include <filesystem>

#include "vmm/boot/loaded_kernel.h"
#include "vmm/memory/guest_memory.h"

namespace brig::boot {

// Places the initrd page-aligned at the highest address that ends at or below
// min(`limit`, layout::kMmioHoleStart, low RAM end) and starts at or above `kernel_end`,
// then reads the file there. Throws InvalidArgument when it does not fit.
InitrdPlacement load_initrd(const GuestMemory& mem, const std::filesystem::path& path, uint64_t kernel_end,
                            uint64_t limit);
// The same from a file already open (kernel_loader.h's BootFiles).
class HostFile;
InitrdPlacement load_initrd(const GuestMemory& mem, const HostFile& file, uint64_t kernel_end, uint64_t limit);

}  // namespace brig::boot
