#include "base/signal_safe.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdint>
#include <string>

#include "base/unique_fd.h"

TEST_CASE("SignalSafeText: numbers in decimal and hex, edge values included", "[base]") {
    CHECK(std::string(base::SignalSafeText<32>().append_signed(0).c_str()) == "0");
    CHECK(std::string(base::SignalSafeText<32>().append_unsigned(0).c_str()) == "0");
    CHECK(std::string(base::SignalSafeText<32>().append_signed(-7).c_str()) == "-7");
    CHECK(std::string(base::SignalSafeText<32>().append_signed(INT64_MIN).c_str()) == "-9223372036854775808");
    CHECK(std::string(base::SignalSafeText<32>().append_signed(INT64_MAX).c_str()) == "9223372036854775807");
    CHECK(std::string(base::SignalSafeText<32>().append_unsigned(UINT64_MAX).c_str()) == "18446744073709551615");
    CHECK(std::string(base::SignalSafeText<32>().append_hex(0).c_str()) == "0x0");
    CHECK(std::string(base::SignalSafeText<32>().append_hex(0x1f).c_str()) == "0x1f");
    CHECK(std::string(base::SignalSafeText<32>().append_hex(UINT64_MAX).c_str()) == "0xffffffffffffffff");
}

TEST_CASE("SignalSafeText: pieces in order; a null text adds nothing", "[base]") {
    base::SignalSafeText<64> text;
    CHECK(text.size() == 0);
    CHECK(std::string(text.c_str()).empty());
    text.append("thread ").append_unsigned(4242).append(nullptr).append(" nr=").append_signed(-1);
    CHECK(std::string(text.c_str()) == "thread 4242 nr=-1");
    CHECK(text.size() == 17);
    CHECK_FALSE(text.truncated());
}

TEST_CASE("SignalSafeText: what does not fit is cut, and the text stays terminated", "[base]") {
    base::SignalSafeText<8> text;  // 7 characters and the NUL
    text.append("abcdef");
    CHECK_FALSE(text.truncated());
    text.append("ghijklmnopqrstuvwxyz");
    CHECK(std::string(text.c_str()) == "abcdefg");
    CHECK(text.size() == 7);
    CHECK(text.truncated());
    text.append_signed(INT64_MIN);  // nothing more fits; nothing overflows
    CHECK(std::string(text.c_str()) == "abcdefg");

    base::SignalSafeText<4> digits;
    digits.append_unsigned(123456);
    CHECK(std::string(digits.c_str()) == "123");  // the leading digits, as written
    CHECK(digits.truncated());

    base::SignalSafeText<2> one;  // the smallest: one character
    one.append_hex(0xab).append("x");
    CHECK(std::string(one.c_str()) == "0");
    CHECK(one.truncated());
}

TEST_CASE("write_all and write_text: every byte reaches the fd", "[base]") {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    base::UniqueFd read_end(fds[0]), write_end(fds[1]);
    base::write_text(write_end.get(), "brig: ");
    const std::string long_text(3000, 'x');
    base::write_all(write_end.get(), long_text.data(), long_text.size());
    base::write_text(write_end.get(), "");
    write_end.reset();
    std::string got;
    char buffer[512];
    for (ssize_t n; (n = read(read_end.get(), buffer, sizeof buffer)) > 0;) got.append(buffer, static_cast<size_t>(n));
    CHECK(got == "brig: " + long_text);
}
