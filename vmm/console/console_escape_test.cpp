#include "vmm/console/console_escape.h"

#include <catch2/catch.hpp>
#include <string>

using brig::ConsoleEscape;

namespace {
std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("console escapes: plain bytes, control keys included, pass through", "[console]") {
    ConsoleEscape escape;
    std::vector<uint8_t> out;
    CHECK(escape.feed(bytes("a\x03\x1a\x13\r\n"), out) == ConsoleEscape::Action::None);
    CHECK(out == bytes("a\x03\x1a\x13\r\n"));
}

TEST_CASE("console escapes: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A", "[console]") {
    ConsoleEscape escape;
    std::vector<uint8_t> out;
    CHECK(escape.feed(bytes("ab\x01\x01"
                            "c"),
                      out) == ConsoleEscape::Action::None);
    CHECK(out == bytes("ab\x01"
                       "c"));
    out.clear();
    CHECK(escape.feed(bytes("d\x01xe"), out) == ConsoleEscape::Action::Quit);
    CHECK(out == bytes("d"));
}

TEST_CASE("console escapes: a Ctrl-A split across reads, and before another byte", "[console]") {
    ConsoleEscape escape;
    std::vector<uint8_t> out;
    CHECK(escape.feed(bytes("a\x01"), out) == ConsoleEscape::Action::None);
    CHECK(out == bytes("a"));  // held back until the next byte says what it is
    CHECK(escape.feed(bytes("y"), out) == ConsoleEscape::Action::None);
    CHECK(out == bytes("a\x01y"));
    CHECK(escape.feed(bytes("\x01"), out) == ConsoleEscape::Action::None);
    CHECK(escape.feed(bytes("x"), out) == ConsoleEscape::Action::Quit);
    CHECK(out == bytes("a\x01y"));
}
