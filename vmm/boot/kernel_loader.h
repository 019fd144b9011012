// Puts a guest kernel, its initrd and command line into guest memory and prepares the
// boot vCPU. Two entry protocols: PVH (an ELF kernel with a Xen PHYS32_ENTRY note, entered
// in 32-bit protected mode) and the Linux 64-bit boot protocol (a bzImage entered in long
// mode). Kernel and initrd files are hostile input: every value read from them is checked.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vmm/boot/host_file.h"
#include "vmm/memory/guest_memory.h"

namespace brig::boot {

struct BootConfig {
    std::filesystem::path kernel;
    std::optional<std::filesystem::path> initrd;
    std::string cmdline;
    uint64_t rsdp_addr;  // where the ACPI RSDP lies in guest memory
};

enum class BootProtocol { Linux64, Pvh };

struct BootEntry {
    BootProtocol protocol;
    uint64_t entry_point;
    uint64_t boot_info_addr;  // zero page (Linux64) or hvm_start_info (PVH)
};

// The kernel and initrd, opened once. A reboot in place (--on-reboot restart) loads
// them again from these open files: brig's main thread opens nothing once the guest
// runs (brig_main.policy), and a file renamed over meanwhile does not change the guest.
struct BootFiles {
    HostFile kernel;
    std::optional<HostFile> initrd;
};
BootFiles open_boot_files(const BootConfig& config);
BootEntry load_guest_kernel(const GuestMemory& mem, const BootFiles& files, const std::string& cmdline,
                            uint64_t rsdp_addr);

// Detects the image format (ELF with a PVH note, or bzImage), loads it, the initrd and the
// command line into guest memory, and writes the boot information (zero page with e820, or
// hvm_start_info with memmap and modlist). Throws InvalidArgument (one line) on bad input.
BootEntry load_guest_kernel(const GuestMemory& mem, const BootConfig& config);

// Writes the boot GDT (and for Linux64 the identity map of the low 4 GiB with 2 MiB pages)
// into guest memory and fills the boot vCPU's registers for the protocol. `sregs` should
// come from KVM_GET_SREGS: fields the boot protocols leave open (APIC base, LDT) are kept.
void setup_boot_cpu(const GuestMemory& mem, const BootEntry& entry, kvm_regs& regs, kvm_sregs& sregs);

// E820 memory types understood by every x86 kernel.
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

struct E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};

// The e820 map of this memory layout (shared by the zero page and the PVH memmap).
std::vector<E820Entry> build_e820_map(const GuestMemory& mem);

}  // namespace brig::boot
