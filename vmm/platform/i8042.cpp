#include "vmm/platform/i8042.h"

#include "vmm/memory/layout.h"

namespace brig {
namespace {
// The device spans 0x60..0x64; port 0x64 is the command/status register.
constexpr uint64_t kCommandOffset = layout::kI8042CommandPort - layout::kI8042DataPort;
constexpr uint8_t kCommandPulseResetLine = 0xfe;
}  // namespace

void I8042ResetController::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset == kCommandOffset && !data.empty() && data[0] == kCommandPulseResetLine)
        request(PowerRequest::Reset, "i8042-reset");
}

}  // namespace brig
