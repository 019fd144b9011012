// What the guest's board-control registers can ask of the VMM.
#pragma once

#include <functional>
#include <string_view>

namespace brig {

enum class PowerRequest { PowerOff, Reset };

// Called from a vCPU thread; `via` names the mechanism for the log ("acpi-sleep", "i8042").
using PowerRequestHandler = std::function<void(PowerRequest, std::string_view via)>;

}  // namespace brig
