#include "vmm/boot/boot_test_support.h"

#include <elf.h>
#include <stdlib.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "vmm/error.h"

namespace brig::boot::testing {

TempDir::TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "brig-boot-test-XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::filesystem::path TempDir::write(const std::string& name, const std::vector<uint8_t>& bytes) const {
    const auto file = dir_ / name;
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
    return file;
}

std::filesystem::path TempDir::write_sparse(const std::string& name, uint64_t size) const {
    const auto file = write(name, {});
    std::filesystem::resize_file(file, size);
    return file;
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>((i + seed) % 251);
    return bytes;
}

FakeBzImage::FakeBzImage() : header{} {
    constexpr uint16_t kShortJump = 0xeb;
    // The header ends at 0x202 + the jump displacement: make it cover the whole struct.
    constexpr uint16_t kDisplacement = 0x1f1 + sizeof(setup_header) - 0x202;
    header.boot_flag = 0xaa55;
    header.jump = kShortJump | (kDisplacement << 8);
    header.header = 0x53726448;  // "HdrS"
    header.version = 0x020f;
    header.loadflags = LOADED_HIGH;
    header.xloadflags = XLF_KERNEL_64;
    header.relocatable_kernel = 1;
    header.kernel_alignment = 0x200000;
    header.pref_address = 0x1000000;
    header.init_size = 0x800000;
    header.cmdline_size = 2047;
    header.initrd_addr_max = 0x7fffffff;
}

std::vector<uint8_t> FakeBzImage::bytes() const {
    const size_t sectors = setup_sects == 0 ? 4 : setup_sects;
    std::vector<uint8_t> image((sectors + 1) * 512, 0);
    setup_header h = header;
    h.setup_sects = setup_sects;
    std::memcpy(image.data() + 0x1f1, &h, sizeof h);
    image.insert(image.end(), payload.begin(), payload.end());
    return image;
}

namespace {

template <typename Ehdr, typename Phdr>
std::vector<uint8_t> build_elf(const FakePvhElf& spec, uint8_t elf_class, uint16_t machine) {
    // [ehdr][phdr LOAD][phdr NOTE][notes ...] [segment at 0x1000]
    constexpr uint64_t kSegmentOffset = 0x1000;
    const uint64_t phoff = sizeof(Ehdr);
    const uint64_t note_offset = phoff + 2 * sizeof(Phdr);

    std::vector<uint8_t> notes;
    auto add_note = [&](const char* name, uint32_t type, const std::vector<uint8_t>& desc) {
        const Elf64_Nhdr nhdr{static_cast<uint32_t>(std::strlen(name) + 1), static_cast<uint32_t>(desc.size()), type};
        notes.insert(notes.end(), reinterpret_cast<const uint8_t*>(&nhdr), reinterpret_cast<const uint8_t*>(&nhdr + 1));
        notes.insert(notes.end(), name, name + nhdr.n_namesz);
        notes.resize((notes.size() + 3) & ~size_t{3});
        notes.insert(notes.end(), desc.begin(), desc.end());
        notes.resize((notes.size() + 3) & ~size_t{3});
    };
    // A note the loader must skip, then (optionally) the PVH entry.
    add_note("GNU", 3, std::vector<uint8_t>(20, 0x5a));
    if (spec.with_pvh_note) {
        const uint64_t entry = spec.load_paddr + spec.entry_offset;
        std::vector<uint8_t> desc(spec.note_value_size);
        std::memcpy(desc.data(), &entry, std::min<size_t>(desc.size(), sizeof entry));
        add_note("Xen", 18, desc);
    }

    Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = elf_class;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = ET_EXEC;
    ehdr.e_machine = machine;
    ehdr.e_version = EV_CURRENT;
    ehdr.e_entry = 0xdead;  // the ELF entry is the 64-bit one; PVH must not use it
    ehdr.e_phoff = phoff;
    ehdr.e_ehsize = sizeof(Ehdr);
    ehdr.e_phentsize = sizeof(Phdr);
    ehdr.e_phnum = 2;

    Phdr load{};
    load.p_type = PT_LOAD;
    load.p_offset = kSegmentOffset;
    load.p_paddr = spec.load_paddr;
    load.p_vaddr = 0xffffffff81000000 & (elf_class == ELFCLASS64 ? ~0ull : 0xffffffffull);
    load.p_filesz = spec.segment.size();
    load.p_memsz = spec.memsz;
    load.p_align = 0x1000;
    Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = note_offset;
    note.p_filesz = notes.size();
    note.p_align = 4;

    std::vector<uint8_t> image(kSegmentOffset, 0);
    std::memcpy(image.data(), &ehdr, sizeof ehdr);
    std::memcpy(image.data() + phoff, &load, sizeof load);
    std::memcpy(image.data() + phoff + sizeof(Phdr), &note, sizeof note);
    std::memcpy(image.data() + note_offset, notes.data(), notes.size());
    image.insert(image.end(), spec.segment.begin(), spec.segment.end());
    return image;
}

}  // namespace

std::vector<uint8_t> FakePvhElf::bytes() const {
    if (elf32) return build_elf<Elf32_Ehdr, Elf32_Phdr>(*this, ELFCLASS32, EM_386);
    return build_elf<Elf64_Ehdr, Elf64_Phdr>(*this, ELFCLASS64, EM_X86_64);
}

std::string invalid_argument_message(const std::function<void()>& action) {
    try {
        action();
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "<no InvalidArgument thrown>";
}

}  // namespace brig::boot::testing
