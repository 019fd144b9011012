#include "vmm/boot/zero_page.h"

#include <stdexcept>

#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

// boot.rst: "undefined" loader; we have no assigned id.
constexpr uint8_t kLoaderTypeUndefined = 0xff;

uint32_t low32(uint64_t value) { return static_cast<uint32_t>(value); }
uint32_t high32(uint64_t value) { return static_cast<uint32_t>(value >> 32); }

}  // namespace

uint64_t write_zero_page(const GuestMemory& mem, const ZeroPageInputs& inputs) {
    // boot.rst: start from zeroes and copy in only the setup header.
    boot_params params{};
    params.hdr = inputs.header;
    params.hdr.type_of_loader = kLoaderTypeUndefined;
    // CAN_USE_HEAP and heap_end_ptr describe the real-mode setup code's heap; the 64-bit entry
    // skips that code, so they stay as the image left them.

    params.hdr.cmd_line_ptr = low32(inputs.cmdline_addr);
    params.ext_cmd_line_ptr = high32(inputs.cmdline_addr);
    if (inputs.initrd) {
        params.hdr.ramdisk_image = low32(inputs.initrd->addr);
        params.ext_ramdisk_image = high32(inputs.initrd->addr);
        params.hdr.ramdisk_size = low32(inputs.initrd->size);
        params.ext_ramdisk_size = high32(inputs.initrd->size);
    }
    // Boot protocol 2.14; older kernels ignore it and find the RSDP by scanning 0xe0000.
    params.acpi_rsdp_addr = inputs.rsdp_addr;

    const auto e820 = build_e820_map(mem);
    if (e820.size() > E820_MAX_ENTRIES_ZEROPAGE) throw std::logic_error("e820 map does not fit in the zero page");
    for (size_t i = 0; i < e820.size(); ++i) params.e820_table[i] = {e820[i].addr, e820[i].size, e820[i].type};
    params.e820_entries = static_cast<uint8_t>(e820.size());

    mem.write_obj(layout::kZeroPage, params);
    return layout::kZeroPage;
}

}  // namespace brig::boot
