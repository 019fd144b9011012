#include "vmm/boot/bzimage_loader.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "vmm/boot/checked_math.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

// Offsets and values fixed by boot.rst.
constexpr uint64_t kSetupHeaderOffset = 0x1f1;
constexpr uint64_t kJumpDisplacementOffset = 0x201;  // the header ends at 0x202 + this byte
constexpr uint64_t kHeaderSignatureOffset = 0x202;
constexpr uint32_t kHeaderSignature = 0x53726448;  // "HdrS", little endian
constexpr uint16_t kBootFlag = 0xaa55;
constexpr uint64_t kSectorSize = 512;
constexpr uint8_t kLegacyDefaultSetupSects = 4;  // setup_sects == 0 means 4
constexpr uint64_t kEntry64Offset = 0x200;       // startup_64, relative to the load address

constexpr uint64_t kFullHeaderEnd = kSetupHeaderOffset + sizeof(setup_header);
// init_size (protocol 2.10) is the last header field this loader depends on; a header that
// ends before it is too old or corrupt.
constexpr uint64_t kRequiredHeaderEnd = kSetupHeaderOffset + offsetof(setup_header, init_size) + sizeof(uint32_t);

std::string protocol_string(uint16_t version) {
    return std::to_string(version >> 8) + "." + (((version & 0xff) < 10) ? "0" : "") + std::to_string(version & 0xff);
}

uint32_t read_u32(std::span<const uint8_t> image, uint64_t offset) {
    uint32_t value;
    std::memcpy(&value, image.data() + offset, sizeof value);
    return value;
}

setup_header read_setup_header(const KernelImage& image) {
    const auto& bytes = image.bytes;
    if (bytes.size() <= kJumpDisplacementOffset) image.fail("is truncated: no room for a setup header");
    const uint64_t declared_end = kHeaderSignatureOffset + bytes[kJumpDisplacementOffset];
    if (declared_end < kRequiredHeaderEnd) {
        image.fail("has a setup header that ends at " + hex(declared_end) + ", before the fields of boot protocol " +
                   protocol_string(kMinBootProtocol));
    }
    const uint64_t copy_end = std::min(declared_end, kFullHeaderEnd);
    if (bytes.size() < copy_end) image.fail("is truncated: the setup header ends at " + hex(copy_end));

    setup_header header{};
    std::memcpy(&header, bytes.data() + kSetupHeaderOffset, copy_end - kSetupHeaderOffset);
    return header;
}

void validate_header(const KernelImage& image, const setup_header& header) {
    if (header.boot_flag != kBootFlag)
        image.fail("has a bad boot_flag " + hex(header.boot_flag) + " (expected 0xaa55)");
    if (header.version < kMinBootProtocol) {
        image.fail("uses boot protocol " + protocol_string(header.version) + ", which is too old (" +
                   protocol_string(kMinBootProtocol) + " or later needed)");
    }
    if (!(header.xloadflags & XLF_KERNEL_64)) image.fail("is not a 64-bit kernel (XLF_KERNEL_64 is not set)");
    if (!(header.loadflags & LOADED_HIGH))
        image.fail("is a zImage that must load at 0x10000; only bzImage is supported");
    if (header.relocatable_kernel && !is_power_of_two(header.kernel_alignment)) {
        image.fail("has a kernel_alignment of " + hex(header.kernel_alignment) + ", which is not a power of two");
    }
}

// The decompressor in arch/x86/boot/compressed/head_64.S works in place from a base that is
// the load address aligned up (relocatable kernels) but never below pref_address, and it
// needs init_size bytes from there.
uint64_t kernel_footprint_end(const KernelImage& image, const setup_header& header, uint64_t payload_size) {
    const auto image_end = checked_add(layout::kHighMemory, payload_size);
    uint64_t base = header.pref_address;
    if (header.relocatable_kernel) {
        const auto aligned_load = align_up(layout::kHighMemory, header.kernel_alignment);
        if (!aligned_load) image.fail("has a kernel_alignment of " + hex(header.kernel_alignment) + " that overflows");
        base = std::max(*aligned_load, base);
    }
    const auto decompress_end = checked_add(base, header.init_size);
    if (!image_end || !decompress_end) {
        image.fail("has a pref_address " + hex(header.pref_address) + " and init_size " + hex(header.init_size) +
                   " that overflow");
    }
    return std::max(*image_end, *decompress_end);
}

}  // namespace

bool looks_like_bzimage(std::span<const uint8_t> image) {
    return image.size() >= kHeaderSignatureOffset + sizeof(uint32_t) &&
           read_u32(image, kHeaderSignatureOffset) == kHeaderSignature;
}

BzImage load_bzimage(const GuestMemory& mem, const KernelImage& image) {
    BzImage bz{read_setup_header(image), {}};
    validate_header(image, bz.header);

    const uint8_t setup_sects = bz.header.setup_sects == 0 ? kLegacyDefaultSetupSects : bz.header.setup_sects;
    // The boot sector plus the real-mode setup sectors precede the protected-mode kernel.
    const uint64_t payload_offset = (uint64_t{setup_sects} + 1) * kSectorSize;
    if (payload_offset >= image.bytes.size()) {
        image.fail("is truncated: the protected-mode kernel should start at " + hex(payload_offset) +
                   " but the file has " + std::to_string(image.bytes.size()) + " bytes");
    }
    const uint64_t payload_size = image.bytes.size() - payload_offset;

    const uint64_t end = kernel_footprint_end(image, bz.header, payload_size);
    if (end > mem.low_ram_end()) {
        image.fail("does not fit in guest memory (" + mib(mem.size()) + "): it needs RAM up to " + hex(end));
    }
    mem.write(layout::kHighMemory, std::span(image.bytes).subspan(payload_offset));
    bz.kernel = {layout::kHighMemory + kEntry64Offset, end};
    return bz;
}

}  // namespace brig::boot
