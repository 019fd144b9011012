#include "vmm/platform/i8042.h"

#include "vmm/memory/layout.h"

namespace brig {
namespace {
// The device spans 0x60..0x64; port 0x64 is the command/status register.
constexpr uint64_t kCommandOffset = layout::kI8042CommandPort - layout::kI8042DataPort;
constexpr uint8_t kCommandPulseResetLine = 0xfe;
}  // namespace

void I8042ResetController::read(uint64_t, std::span<uint8_t> data) {
    // Status 0: output buffer empty, input buffer empty; the guest finds no keyboard.
    for (auto& b : data) b = 0;
}

void I8042ResetController::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset == kCommandOffset && !data.empty() && data[0] == kCommandPulseResetLine)
        handler_(PowerRequest::Reset, "i8042-reset");
}

}  // namespace brig
