// Register state at kernel entry. Linux64: long mode, paging on with the identity map,
// RSI = zero page (boot.rst "64-bit boot protocol"). PVH: 32-bit protected mode, paging
// off, EBX = hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h).
#include "vmm/boot/boot_gdt.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/page_tables.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

constexpr uint64_t kCr0ProtectionEnable = 1ull << 0;
constexpr uint64_t kCr0ExtensionType = 1ull << 4;  // hard-wired to 1 on every x86-64
constexpr uint64_t kCr0Paging = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLongModeEnable = 1ull << 8;
constexpr uint64_t kEferLongModeActive = 1ull << 10;
constexpr uint64_t kRflagsReservedOne = 1ull << 1;  // bit 1 always reads as 1

void load_segments(kvm_sregs& sregs, const BootSegments& segs, uint16_t gdt_limit) {
    sregs.cs = segs.code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segs.data;
    sregs.tr = segs.tss;
    sregs.gdt.base = layout::kBootGdt;
    sregs.gdt.limit = gdt_limit;
    // An empty IDT: any exception before the kernel installs its own is a triple fault,
    // which KVM reports, instead of a jump through garbage.
    sregs.idt.base = layout::kBootIdt;
    sregs.idt.limit = 0;
}

}  // namespace

void setup_boot_cpu(const GuestMemory& mem, const BootEntry& entry, kvm_regs& regs, kvm_sregs& sregs) {
    regs = {};
    regs.rflags = kRflagsReservedOne;
    regs.rip = entry.entry_point;

    if (entry.protocol == BootProtocol::Linux64) {
        const BootSegments segs = boot_segments(CodeMode::Long64);
        load_segments(sregs, segs, write_boot_gdt(mem, segs));
        sregs.cr3 = write_identity_page_tables(mem);
        sregs.cr4 = kCr4Pae;
        sregs.efer = kEferLongModeEnable | kEferLongModeActive;
        sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType | kCr0Paging;
        regs.rsi = entry.boot_info_addr;
        regs.rsp = layout::kBootStackTop;
        regs.rbp = layout::kBootStackTop;
    } else {
        const BootSegments segs = boot_segments(CodeMode::Protected32);
        load_segments(sregs, segs, write_boot_gdt(mem, segs));
        sregs.cr3 = 0;
        sregs.cr4 = 0;
        sregs.efer = 0;
        sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType;
        regs.rbx = entry.boot_info_addr;
    }
}

}  // namespace brig::boot
