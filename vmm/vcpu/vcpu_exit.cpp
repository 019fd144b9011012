#include "vmm/vcpu/vcpu_exit.h"

#include <sys/ioctl.h>

#include <cstring>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace brig {
namespace {

constexpr size_t kInstructionBytesShown = 15;  // the longest x86 instruction

std::string hex_bytes(const uint8_t* bytes, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += fmt::format("{}{:02x}", i ? " " : "", bytes[i]);
    return out;
}

void handle_io(const VcpuFd& vcpu, const VcpuExitContext& ctx) {
    kvm_run* run = vcpu.run_area();
    auto& io = run->io;
    auto* data = reinterpret_cast<uint8_t*>(run) + io.data_offset;
    // `rep ins/outs` arrive as one exit with count > 1, laid out back to back.
    for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
        std::span<uint8_t> bytes(data, io.size);
        if (io.direction == KVM_EXIT_IO_OUT) {
            if (!ctx.pio.write(io.port, bytes))
                SPDLOG_TRACE("[vcpu{}] unclaimed out port {:#x}", vcpu.index(), io.port);
        } else if (!ctx.pio.read(io.port, bytes)) {
            std::memset(bytes.data(), 0xff, bytes.size());  // an empty ISA bus floats high
        }
    }
}

void handle_mmio(const VcpuFd& vcpu, const VcpuExitContext& ctx) {
    auto& mmio = vcpu.run_area()->mmio;
    const uint32_t len = std::min<uint32_t>(mmio.len, sizeof mmio.data);
    std::span<uint8_t> bytes(mmio.data, len);
    if (mmio.is_write) {
        if (!ctx.mmio.write(mmio.phys_addr, bytes))
            spdlog::debug("[vcpu{}] unclaimed MMIO write at {:#x}", vcpu.index(), mmio.phys_addr);
    } else if (!ctx.mmio.read(mmio.phys_addr, bytes)) {
        std::memset(bytes.data(), 0xff, bytes.size());
    }
}

std::string internal_error_detail(const VcpuFd& vcpu, const VcpuExitContext& ctx) {
    const kvm_run* run = vcpu.run_area();
    const auto suberror = run->internal.suberror;
    const char* what = suberror == KVM_INTERNAL_ERROR_EMULATION     ? "emulation failure"
                       : suberror == KVM_INTERNAL_ERROR_SIMUL_EX    ? "exception while delivering exception"
                       : suberror == KVM_INTERNAL_ERROR_DELIVERY_EV ? "event delivery failed"
                                                                    : "internal error";
    std::string detail =
        fmt::format("vCPU {}: KVM_EXIT_INTERNAL_ERROR ({}, suberror {})", vcpu.index(), what, suberror);
    if (suberror == KVM_INTERNAL_ERROR_EMULATION &&
        (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
        run->emulation_failure.insn_size > 0) {
        const size_t n = std::min<size_t>(run->emulation_failure.insn_size, sizeof run->emulation_failure.insn_bytes);
        const auto regs = vcpu.get_regs();
        return detail + fmt::format(" at RIP {:#x}, instruction bytes: {}", regs.rip,
                                    hex_bytes(run->emulation_failure.insn_bytes, n));
    }
    return detail + " at " + describe_guest_instruction(vcpu, ctx.memory);
}

}  // namespace

std::string describe_guest_instruction(const VcpuFd& vcpu, const GuestMemory& memory) {
    try {
        const auto regs = vcpu.get_regs();
        const auto sregs = vcpu.get_sregs();
        std::string out = fmt::format("RIP {:#x}", regs.rip);
        kvm_translation tr{};
        tr.linear_address = sregs.cs.base + regs.rip;
        if (ioctl(vcpu.fd(), KVM_TRANSLATE, &tr) != 0 || !tr.valid) return out + " (not translatable)";
        uint8_t bytes[kInstructionBytesShown];
        size_t n = kInstructionBytesShown;
        while (n > 0 && !memory.contains(tr.physical_address, n)) --n;
        if (n == 0) return out + fmt::format(" (physical {:#x} outside guest memory)", tr.physical_address);
        memory.read(tr.physical_address, std::span(bytes, n));
        return out + ", instruction bytes: " + hex_bytes(bytes, n);
    } catch (const std::exception& e) {
        return std::string("(registers unavailable: ") + e.what() + ")";
    }
}

std::optional<StopReason> handle_vcpu_exit(const VcpuFd& vcpu, const VcpuExitContext& ctx) {
    const kvm_run* run = vcpu.run_area();
    switch (run->exit_reason) {
        case KVM_EXIT_IO:
            handle_io(vcpu, ctx);
            return std::nullopt;
        case KVM_EXIT_MMIO:
            handle_mmio(vcpu, ctx);
            return std::nullopt;
        case KVM_EXIT_INTR:
            return std::nullopt;
        case KVM_EXIT_HLT:
            // With the in-kernel LAPIC, HLT waits in KVM; seeing it here means no
            // interrupt can ever wake this vCPU again.
            return StopReason{StopKind::VcpuFailure,
                              fmt::format("vCPU {}: halted with no way to wake ({})", vcpu.index(),
                                          describe_guest_instruction(vcpu, ctx.memory))};
        case KVM_EXIT_SHUTDOWN:
            return StopReason{StopKind::GuestReset, fmt::format("vCPU {}: triple fault at {}", vcpu.index(),
                                                                describe_guest_instruction(vcpu, ctx.memory))};
        case KVM_EXIT_SYSTEM_EVENT:
            switch (run->system_event.type) {
                case KVM_SYSTEM_EVENT_SHUTDOWN:
                    return StopReason{StopKind::GuestPowerOff,
                                      fmt::format("vCPU {}: system event shutdown", vcpu.index())};
                case KVM_SYSTEM_EVENT_RESET:
                    return StopReason{StopKind::GuestReset, fmt::format("vCPU {}: system event reset", vcpu.index())};
                case KVM_SYSTEM_EVENT_CRASH:
                    return StopReason{StopKind::GuestPanic, fmt::format("vCPU {}: system event crash", vcpu.index())};
                default:
                    return StopReason{StopKind::VcpuFailure, fmt::format("vCPU {}: unknown system event {}",
                                                                         vcpu.index(), run->system_event.type)};
            }
        case KVM_EXIT_FAIL_ENTRY:
            return StopReason{StopKind::VcpuFailure,
                              fmt::format("vCPU {}: KVM_EXIT_FAIL_ENTRY (hardware entry failure reason {:#x}) at {}",
                                          vcpu.index(), run->fail_entry.hardware_entry_failure_reason,
                                          describe_guest_instruction(vcpu, ctx.memory))};
        case KVM_EXIT_INTERNAL_ERROR:
            return StopReason{StopKind::VcpuFailure, internal_error_detail(vcpu, ctx)};
        default:
            return StopReason{StopKind::VcpuFailure,
                              fmt::format("vCPU {}: unhandled KVM exit reason {} at {}", vcpu.index(), run->exit_reason,
                                          describe_guest_instruction(vcpu, ctx.memory))};
    }
}

}  // namespace brig
