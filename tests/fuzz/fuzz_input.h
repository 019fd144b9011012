// Reads a fuzz input as a sequence of typed values: a small stand-in for clang's
// FuzzedDataProvider, which only clang ships, so that the targets also build with the
// project's GCC for the unit suite's replay. Past the end, every value reads as 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

namespace brig::fuzz {

class FuzzInput {
public:
    FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    bool empty() const { return pos_ >= size_; }
    size_t remaining() const { return empty() ? 0 : size_ - pos_; }

    template <typename T>
    T take() {
        static_assert(std::is_trivially_copyable_v<T>);
        T value{};
        const size_t n = sizeof(T) < remaining() ? sizeof(T) : remaining();
        if (n) std::memcpy(&value, data_ + pos_, n);
        pos_ += n;
        return value;
    }
    bool flag() { return take<uint8_t>() & 1; }
    // A value in [0, bound); 0 when bound is 0.
    uint64_t below(uint64_t bound) { return bound ? take<uint64_t>() % bound : 0; }
    // A small value in [0, bound), from one byte: cheap for the fuzzer to find.
    unsigned pick(unsigned bound) { return bound ? take<uint8_t>() % bound : 0; }
    // Up to `max` bytes, with the length taken first.
    std::span<const uint8_t> bytes(size_t max) {
        size_t n = take<uint16_t>() % (max + 1);
        if (n > remaining()) n = remaining();
        std::span<const uint8_t> out(data_ + pos_, n);
        pos_ += n;
        return out;
    }
    std::string text(size_t max) {
        auto b = bytes(max);
        return std::string(b.begin(), b.end());
    }
    // Everything not read yet.
    std::span<const uint8_t> rest() {
        std::span<const uint8_t> out(data_ + (empty() ? size_ : pos_), remaining());
        pos_ = size_;
        return out;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

}  // namespace brig::fuzz
