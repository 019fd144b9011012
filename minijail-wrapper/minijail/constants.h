// Named constants and errno names usable in policy files.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace minijail {

// The value of a named constant (PROT_READ, O_CLOEXEC, KVM_RUN, ...), if known.
std::optional<uint64_t> lookup_constant(std::string_view name);

// The whole table, sorted by name (for audits and documentation).
const std::vector<std::pair<std::string_view, uint64_t>>& constant_table();

// The errno value for a name such as "ENOENT", if known.
std::optional<int> lookup_errno(std::string_view name);

}  // namespace minijail
