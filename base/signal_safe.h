// Text for a signal handler, or a child between fork and exec: no allocation, no lock,
// no exception, only write(2). SignalSafeText builds a line in a fixed buffer; what
// does not fit is cut off, and the text stays NUL-terminated.
#pragma once

#include <cstddef>
#include <cstdint>

namespace base {

template <size_t Capacity>
class SignalSafeText {
    static_assert(Capacity > 1, "room for one character and the NUL at least");

public:
    SignalSafeText() noexcept { buffer_[0] = '\0'; }

    SignalSafeText& append(const char* text) noexcept {
        for (; text && *text; ++text) put(*text);
        return *this;
    }
    SignalSafeText& append_unsigned(uint64_t value) noexcept {
        char digits[20];  // 18446744073709551615
        size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + value % 10);
            value /= 10;
        } while (value != 0);
        while (n > 0) put(digits[--n]);
        return *this;
    }
    SignalSafeText& append_signed(int64_t value) noexcept {
        if (value >= 0) return append_unsigned(static_cast<uint64_t>(value));
        put('-');
        // -(INT64_MIN) does not fit an int64_t; in unsigned arithmetic it does.
        return append_unsigned(uint64_t{0} - static_cast<uint64_t>(value));
    }
    SignalSafeText& append_hex(uint64_t value) noexcept {  // "0x1f"
        char digits[16];
        size_t n = 0;
        do {
            digits[n++] = "0123456789abcdef"[value & 0xf];
            value >>= 4;
        } while (value != 0);
        put('0');
        put('x');
        while (n > 0) put(digits[--n]);
        return *this;
    }

    const char* c_str() const noexcept { return buffer_; }
    size_t size() const noexcept { return size_; }
    bool truncated() const noexcept { return truncated_; }

private:
    void put(char c) noexcept {
        if (size_ >= Capacity - 1) {
            truncated_ = true;
            return;
        }
        buffer_[size_] = c;
        buffer_[++size_] = '\0';
    }

    char buffer_[Capacity];
    size_t size_ = 0;
    bool truncated_ = false;
};

// Writes all of `data`, retrying a short write; gives up on an error, or on the third
// EINTR (a background write to a TOSTOP terminal is interrupted by every SIGTTOU).
void write_all(int fd, const char* data, size_t size) noexcept;

// write_all of a NUL-terminated text.
void write_text(int fd, const char* text) noexcept;

}  // namespace base
