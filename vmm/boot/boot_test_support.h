// Test-only: synthetic kernel images and scratch files for the boot loader tests.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "vmm/memory/guest_memory.h"
#include "vmm/memory/layout.h"

namespace brig::boot::testing {

// Where the loader tests say the RSDP lies: brig's ACPI area.
constexpr uint64_t kRsdp = layout::kAcpiTables;

// A copy of [addr, addr+size) of guest memory.
inline std::vector<uint8_t> guest_bytes(const GuestMemory& mem, uint64_t addr, uint64_t size) {
    auto s = mem.slice(addr, size);
    return {s.begin(), s.end()};
}

// A private directory under $TMPDIR, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::filesystem::path write(const std::string& name, const std::vector<uint8_t>& bytes) const;
    // A sparse file: large sizes cost nothing on disk.
    std::filesystem::path write_sparse(const std::string& name, uint64_t size) const;
    std::filesystem::path path(const std::string& name) const { return dir_ / name; }

private:
    std::filesystem::path dir_;
};

// Bytes 0, 1, 2, ... wrapping at 251 (a prime), so shifted copies never match by accident.
std::vector<uint8_t> pattern(size_t size, uint8_t seed);

struct FakeBzImage {
    setup_header header;  // defaults: protocol 2.15, 64-bit, relocatable, 2 MiB aligned
    uint8_t setup_sects = 4;
    std::vector<uint8_t> payload = pattern(0x3000, 7);  // the protected-mode kernel

    FakeBzImage();
    std::vector<uint8_t> bytes() const;
};

struct FakePvhElf {
    bool elf32 = false;
    bool with_pvh_note = true;
    uint32_t note_value_size = 8;  // Linux emits 8 bytes on x86-64
    uint64_t load_paddr = 0x1000000;
    std::vector<uint8_t> segment = pattern(0x3000, 3);
    uint64_t memsz = 0x5000;        // > segment size: the rest is bss
    uint64_t entry_offset = 0x850;  // PVH entry, relative to load_paddr

    std::vector<uint8_t> bytes() const;
};

// The InvalidArgument message `action` throws, or a marker when it throws nothing. Any
// other exception escapes, failing the test.
std::string invalid_argument_message(const std::function<void()>& action);

}  // namespace brig::boot::testing
