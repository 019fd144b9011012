#include "ipc/mac_address.h"

#include <catch2/catch.hpp>

using brig::ipc::MacAddress;

TEST_CASE("a MAC address parses in either case and prints in lower case", "[mac]") {
    auto mac = MacAddress::parse("52:54:00:AB:cd:0F");
    REQUIRE(mac);
    CHECK(mac->bytes == std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f});
    CHECK(mac->to_string() == "52:54:00:ab:cd:0f");
    CHECK_FALSE(mac->is_multicast());
    CHECK(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
    CHECK(MacAddress::parse("ff:ff:ff:ff:ff:ff")->is_multicast());
}

TEST_CASE("a malformed MAC address is refused", "[mac]") {
    for (const char* bad : {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56", "52:54:00:12:34:5g",
                            "5:254:00:12:34:56", " 52:54:00:12:34:5", "52:54:00:12:34:+5"})
        CHECK_FALSE(MacAddress::parse(bad));
}
