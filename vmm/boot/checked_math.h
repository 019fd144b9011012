// Arithmetic on values read from image files: they are attacker-chosen, so every sum that
// forms an address or size is checked for wrap-around before it is trusted.
#pragma once

#include <cstdint>
#include <optional>

namespace brig::boot {

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
    uint64_t sum;
    if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
    return sum;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
    uint64_t product;
    if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
    return product;
}

// `alignment` must be a power of two.
inline uint64_t align_down(uint64_t value, uint64_t alignment) { return value & ~(alignment - 1); }

inline std::optional<uint64_t> align_up(uint64_t value, uint64_t alignment) {
    auto bumped = checked_add(value, alignment - 1);
    if (!bumped) return std::nullopt;
    return align_down(*bumped, alignment);
}

inline bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// True when [offset, offset + len) lies within a buffer of `total` bytes, with no overflow.
inline bool range_within(uint64_t offset, uint64_t len, uint64_t total) {
    return offset <= total && len <= total - offset;
}

}  // namespace brig::boot
