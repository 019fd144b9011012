#include <catch2/catch.hpp>

#include "vmm/boot/boot_gdt.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/memory/layout.h"

using namespace brig;
using namespace brig::boot;
using namespace brig::layout;

namespace {

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

// Well-known descriptor encodings (flat 4 GiB, DPL 0) as every x86 loader writes them.
constexpr uint64_t kLongModeCodeDescriptor = 0x00af9b000000ffff;
constexpr uint64_t kProtectedModeCodeDescriptor = 0x00cf9b000000ffff;
constexpr uint64_t kFlatDataDescriptor = 0x00cf93000000ffff;

// Walks the guest's 4-level page tables the way the MMU would for a 2 MiB mapping.
std::optional<uint64_t> translate(const GuestMemory& mem, uint64_t cr3, uint64_t vaddr) {
    constexpr uint64_t kPresent = 1, kLargePage = 1ull << 7, kAddrMask = 0x000ffffffffff000ull;
    const uint64_t pml4e = mem.read_obj<uint64_t>(cr3 + ((vaddr >> 39) & 0x1ff) * 8);
    if (!(pml4e & kPresent)) return std::nullopt;
    const uint64_t pdpte = mem.read_obj<uint64_t>((pml4e & kAddrMask) + ((vaddr >> 30) & 0x1ff) * 8);
    if (!(pdpte & kPresent)) return std::nullopt;
    const uint64_t pde = mem.read_obj<uint64_t>((pdpte & kAddrMask) + ((vaddr >> 21) & 0x1ff) * 8);
    if (!(pde & kPresent) || !(pde & kLargePage)) return std::nullopt;
    return (pde & 0x000fffffffe00000ull) | (vaddr & 0x1fffff);
}

void check_flat(const kvm_segment& seg, uint16_t selector) {
    CHECK(seg.selector == selector);
    CHECK(seg.base == 0);
    CHECK(seg.limit == 0xffffffff);
    CHECK(seg.present == 1);
    CHECK(seg.dpl == 0);
    CHECK(seg.s == 1);
    CHECK(seg.g == 1);
}

}  // namespace

TEST_CASE("Linux64 boot CPU: long mode, identity map, zero page in RSI", "[boot][cpu]") {
    auto mem = GuestMemory::create(64 * MiB);
    kvm_regs regs{};
    kvm_sregs sregs{};
    sregs.apic_base = 0xfee00900;  // fields outside the boot state are kept
    setup_boot_cpu(mem, {BootProtocol::Linux64, 0x100200, kZeroPage}, regs, sregs);

    CHECK(regs.rip == 0x100200);
    CHECK(regs.rsi == kZeroPage);
    CHECK(regs.rsp == kBootStackTop);
    CHECK(regs.rbp == kBootStackTop);
    CHECK(regs.rflags == 0x2);

    CHECK((sregs.cr0 & kCr0Pe) != 0);
    CHECK((sregs.cr0 & kCr0Pg) != 0);
    CHECK((sregs.cr4 & kCr4Pae) != 0);
    CHECK(sregs.efer == (kEferLme | kEferLma));
    CHECK(sregs.cr3 == kPml4);
    CHECK(sregs.apic_base == 0xfee00900);

    check_flat(sregs.cs, 0x10);
    CHECK(sregs.cs.l == 1);
    CHECK(sregs.cs.db == 0);
    for (const auto* seg : {&sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
        check_flat(*seg, 0x18);
        CHECK(seg->db == 1);
    }
    CHECK(sregs.tr.selector == 0x20);
    CHECK(sregs.tr.type == 0xb);
    CHECK(sregs.tr.present == 1);

    CHECK(sregs.gdt.base == kBootGdt);
    CHECK(mem.read_obj<uint64_t>(kBootGdt + 0x00) == 0);
    CHECK(mem.read_obj<uint64_t>(kBootGdt + 0x10) == kLongModeCodeDescriptor);
    CHECK(mem.read_obj<uint64_t>(kBootGdt + 0x18) == kFlatDataDescriptor);
    CHECK(sregs.gdt.base + sregs.gdt.limit < kBootIdt);
    CHECK(sregs.idt.base == kBootIdt);
    CHECK(sregs.idt.limit == 0);
}

TEST_CASE("Linux64 page tables map the low 4 GiB one to one", "[boot][cpu]") {
    auto mem = GuestMemory::create(64 * MiB);
    kvm_regs regs{};
    kvm_sregs sregs{};
    setup_boot_cpu(mem, {BootProtocol::Linux64, 0x100200, kZeroPage}, regs, sregs);

    for (uint64_t vaddr : std::initializer_list<uint64_t>{0, 0x100200, 0x1234567, 1 * GiB - 1, 1 * GiB, 3 * GiB + 5,
                                                          kLapic, 4 * GiB - 1}) {
        INFO("vaddr " << std::hex << vaddr);
        CHECK(translate(mem, sregs.cr3, vaddr) == vaddr);
    }
    CHECK_FALSE(translate(mem, sregs.cr3, 4 * GiB).has_value());
}

TEST_CASE("PVH boot CPU: 32-bit protected mode, paging off, start info in EBX", "[boot][cpu]") {
    auto mem = GuestMemory::create(64 * MiB);
    kvm_regs regs{};
    regs.rsi = 0x1234;  // stale state must not leak into the boot registers
    kvm_sregs sregs{};
    sregs.efer = kEferLme;
    setup_boot_cpu(mem, {BootProtocol::Pvh, 0x1000850, kPvhStartInfo}, regs, sregs);

    CHECK(regs.rip == 0x1000850);
    CHECK(regs.rbx == kPvhStartInfo);
    CHECK(regs.rsi == 0);
    CHECK(regs.rflags == 0x2);

    CHECK((sregs.cr0 & kCr0Pe) != 0);
    CHECK((sregs.cr0 & kCr0Pg) == 0);
    CHECK(sregs.cr4 == 0);
    CHECK(sregs.efer == 0);

    check_flat(sregs.cs, 0x10);
    CHECK(sregs.cs.l == 0);
    CHECK(sregs.cs.db == 1);
    check_flat(sregs.ss, 0x18);
    check_flat(sregs.ds, 0x18);
    CHECK(sregs.tr.selector == 0x20);

    CHECK(mem.read_obj<uint64_t>(kBootGdt + 0x10) == kProtectedModeCodeDescriptor);
    CHECK(mem.read_obj<uint64_t>(kBootGdt + 0x18) == kFlatDataDescriptor);
}

TEST_CASE("GDT descriptors encode what the kvm_segment says", "[boot][cpu]") {
    const auto segs = boot_segments(CodeMode::Long64);
    CHECK(gdt_descriptor(segs.code) == kLongModeCodeDescriptor);
    CHECK(gdt_descriptor(segs.data) == kFlatDataDescriptor);
    kvm_segment byte_granular{};
    byte_granular.base = 0x12345678;
    byte_granular.limit = 0x67;
    byte_granular.type = 0xb;
    byte_granular.present = 1;
    CHECK(gdt_descriptor(byte_granular) == 0x12008b3456780067);
}
