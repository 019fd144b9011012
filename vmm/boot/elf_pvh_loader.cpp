#include "vmm/boot/elf_pvh_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "vmm/boot/checked_math.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

// xen/include/public/elfnote.h
constexpr uint32_t kXenElfnotePhys32Entry = 18;
constexpr char kXenNoteName[] = "Xen";  // namesz counts the NUL
constexpr uint64_t kDefaultNoteAlignment = 4;
constexpr uint64_t kWideNoteAlignment = 8;  // some toolchains emit 8-aligned notes in ELF64

struct Elf64 {
    using Ehdr = Elf64_Ehdr;
    using Phdr = Elf64_Phdr;
    static constexpr uint16_t kMachine = EM_X86_64;
};
struct Elf32 {
    using Ehdr = Elf32_Ehdr;
    using Phdr = Elf32_Phdr;
    static constexpr uint16_t kMachine = EM_386;
};

template <typename T>
T read_struct(std::span<const uint8_t> bytes, uint64_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

// A segment, widened to 64 bits, so both classes share the checks below.
struct Segment {
    size_t index;
    uint32_t type;
    uint64_t offset;
    uint64_t paddr;
    uint64_t filesz;
    uint64_t memsz;
    uint64_t align;
};

std::string segment_name(const Segment& seg) { return "segment " + std::to_string(seg.index); }

template <typename Class>
std::vector<Segment> read_program_headers(const KernelImage& image) {
    const auto& bytes = image.bytes;
    if (bytes.size() < sizeof(typename Class::Ehdr)) image.fail("is truncated: the ELF header is incomplete");
    const auto ehdr = read_struct<typename Class::Ehdr>(bytes, 0);

    if (ehdr.e_machine != Class::kMachine)
        image.fail("is an ELF for machine " + std::to_string(ehdr.e_machine) + ", not x86");
    if (ehdr.e_type != ET_EXEC) image.fail("is not an executable ELF (e_type " + std::to_string(ehdr.e_type) + ")");
    if (ehdr.e_phnum == 0) image.fail("is an ELF without program headers");
    if (ehdr.e_phnum == PN_XNUM) image.fail("has too many program headers (PN_XNUM)");
    if (ehdr.e_phentsize != sizeof(typename Class::Phdr)) {
        image.fail("has a program header size of " + std::to_string(ehdr.e_phentsize) + ", expected " +
                   std::to_string(sizeof(typename Class::Phdr)));
    }
    // e_phnum < 0xffff and e_phentsize is fixed: the product cannot overflow.
    const uint64_t table_size = uint64_t{ehdr.e_phnum} * ehdr.e_phentsize;
    if (!range_within(ehdr.e_phoff, table_size, bytes.size())) {
        image.fail("is truncated: the program header table at " + hex(ehdr.e_phoff) + " (" +
                   std::to_string(table_size) + " bytes) ends beyond the file's " + std::to_string(bytes.size()) +
                   " bytes");
    }

    std::vector<Segment> segments;
    for (size_t i = 0; i < ehdr.e_phnum; ++i) {
        const auto ph = read_struct<typename Class::Phdr>(bytes, ehdr.e_phoff + i * sizeof(typename Class::Phdr));
        segments.push_back({i, ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_align});
    }
    return segments;
}

std::span<const uint8_t> segment_file_bytes(const KernelImage& image, const Segment& seg) {
    if (!range_within(seg.offset, seg.filesz, image.bytes.size())) {
        image.fail("is truncated: " + segment_name(seg) + " at file offset " + hex(seg.offset) + " (" +
                   std::to_string(seg.filesz) + " bytes) ends beyond the file's " + std::to_string(image.bytes.size()) +
                   " bytes");
    }
    return std::span(image.bytes).subspan(seg.offset, seg.filesz);
}

// Walks the notes of one PT_NOTE segment; returns the PVH entry if this segment has it.
std::optional<uint64_t> find_pvh_entry_in(const KernelImage& image, const Segment& seg) {
    const auto notes = segment_file_bytes(image, seg);
    const uint64_t alignment = seg.align == kWideNoteAlignment ? kWideNoteAlignment : kDefaultNoteAlignment;
    uint64_t offset = 0;
    while (notes.size() - offset >= sizeof(Elf64_Nhdr)) {
        const auto nhdr = read_struct<Elf64_Nhdr>(notes, offset);
        // n_namesz and n_descsz are 32-bit: these 64-bit sums cannot wrap.
        const uint64_t name_offset = offset + sizeof(Elf64_Nhdr);
        const uint64_t desc_offset = name_offset + *align_up(nhdr.n_namesz, alignment);
        const uint64_t next = desc_offset + *align_up(nhdr.n_descsz, alignment);
        if (!range_within(name_offset, nhdr.n_namesz, notes.size()) ||
            !range_within(desc_offset, nhdr.n_descsz, notes.size())) {
            image.fail("has a truncated note in " + segment_name(seg));
        }

        const bool is_xen = nhdr.n_namesz == sizeof kXenNoteName &&
                            std::memcmp(notes.data() + name_offset, kXenNoteName, sizeof kXenNoteName) == 0;
        if (is_xen && nhdr.n_type == kXenElfnotePhys32Entry) {
            // Linux emits the entry as a pointer-sized value, others as 32 bits.
            if (nhdr.n_descsz == sizeof(uint32_t)) return read_struct<uint32_t>(notes, desc_offset);
            if (nhdr.n_descsz == sizeof(uint64_t)) return read_struct<uint64_t>(notes, desc_offset);
            image.fail("has a PVH entry note with a " + std::to_string(nhdr.n_descsz) + "-byte value");
        }
        if (next >= notes.size()) break;
        offset = next;
    }
    return std::nullopt;
}

uint64_t find_pvh_entry(const KernelImage& image, const std::vector<Segment>& segments) {
    for (const auto& seg : segments) {
        if (seg.type != PT_NOTE) continue;
        if (auto entry = find_pvh_entry_in(image, seg)) return *entry;
    }
    image.fail(
        "is an ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): build the kernel with CONFIG_PVH=y or "
        "pass a bzImage");
}

// Checks one PT_LOAD segment against the file and guest RAM; returns its guest end.
uint64_t validate_load_segment(const GuestMemory& mem, const KernelImage& image, const Segment& seg) {
    segment_file_bytes(image, seg);
    if (seg.filesz > seg.memsz) {
        image.fail("has " + segment_name(seg) + " with p_filesz " + hex(seg.filesz) + " larger than p_memsz " +
                   hex(seg.memsz));
    }
    // Below 1 MiB live the zero page, page tables, command line and ACPI tables.
    if (seg.paddr < layout::kHighMemory) {
        image.fail("has " + segment_name(seg) + " at " + hex(seg.paddr) + ", inside the boot area below " +
                   hex(layout::kHighMemory));
    }
    const auto end = checked_add(seg.paddr, seg.memsz);
    // PVH enters with paging off, so the kernel must sit in RAM below 4 GiB.
    if (!end || *end > mem.low_ram_end()) {
        image.fail("does not fit in guest memory (" + mib(mem.size()) + "): " + segment_name(seg) + " at " +
                   hex(seg.paddr) + " (" + std::to_string(seg.memsz) + " bytes) ends beyond low RAM at " +
                   hex(mem.low_ram_end()));
    }
    return *end;
}

template <typename Class>
LoadedKernel load(const GuestMemory& mem, const KernelImage& image) {
    const auto segments = read_program_headers<Class>(image);
    // Find the entry before touching guest memory, so a rejected image writes nothing.
    const uint64_t entry = find_pvh_entry(image, segments);

    uint64_t kernel_end = 0;
    bool entry_is_loaded = false;
    for (const auto& seg : segments) {
        if (seg.type != PT_LOAD) continue;
        const uint64_t end = validate_load_segment(mem, image, seg);
        kernel_end = std::max(kernel_end, end);
        entry_is_loaded |= entry >= seg.paddr && entry < end;
    }
    if (kernel_end == 0) image.fail("has no PT_LOAD segments");
    if (!entry_is_loaded) image.fail("has a PVH entry point " + hex(entry) + " outside its loaded segments");

    for (const auto& seg : segments) {
        if (seg.type != PT_LOAD) continue;
        mem.write(seg.paddr, segment_file_bytes(image, seg));
        // The bss: guest RAM may hold a previous boot's data.
        auto bss = mem.slice(seg.paddr + seg.filesz, seg.memsz - seg.filesz);
        std::fill(bss.begin(), bss.end(), 0);
    }
    return {entry, kernel_end};
}

}  // namespace

bool looks_like_elf(std::span<const uint8_t> image) {
    return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

LoadedKernel load_elf_pvh(const GuestMemory& mem, const KernelImage& image) {
    if (image.bytes.size() < EI_NIDENT) image.fail("is truncated: the ELF identification is incomplete");
    if (image.bytes[EI_DATA] != ELFDATA2LSB) image.fail("is not a little-endian ELF");
    if (image.bytes[EI_VERSION] != EV_CURRENT) image.fail("has an unknown ELF version");
    switch (image.bytes[EI_CLASS]) {
        case ELFCLASS64:
            return load<Elf64>(mem, image);
        case ELFCLASS32:
            return load<Elf32>(mem, image);
        default:
            image.fail("has an unknown ELF class " + std::to_string(image.bytes[EI_CLASS]));
    }
}

}  // namespace brig::boot
