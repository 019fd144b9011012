#include "ipc/device_contract.h"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <vector>

using namespace brig::ipc::device_contract;

namespace {
Arguments round_trip(const Arguments& in) {
    const auto argv = to_argv(in);
    std::vector<const char*> raw;
    for (const auto& a : argv) raw.push_back(a.c_str());
    return parse_argv(static_cast<int>(raw.size()), raw.data());
}
}  // namespace

TEST_CASE("device contract: the argv brig writes is the argv brig-device reads", "[contract]") {
    const Arguments out = round_trip({"virtio-blk", "virtio-blk0", 400001, 400002, "debug"});
    CHECK(out.kind == "virtio-blk");
    CHECK(out.name == "virtio-blk0");
    CHECK(out.uid == 400001);
    CHECK(out.gid == 400002);
    CHECK(out.log_level == "debug");
}

TEST_CASE("device contract: a malformed argv is refused", "[contract]") {
    const char* too_short[] = {"brig-device", "serial", "serial", "1"};
    CHECK_THROWS_AS(parse_argv(4, too_short), std::runtime_error);
    const char* bad_id[] = {"brig-device", "serial", "serial", "1x", "2"};
    CHECK_THROWS_AS(parse_argv(5, bad_id), std::runtime_error);
    const char* empty_id[] = {"brig-device", "serial", "serial", "", "2"};
    CHECK_THROWS_AS(parse_argv(5, empty_id), std::runtime_error);
}
