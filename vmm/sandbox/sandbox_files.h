// Where the sandbox's parts live: the brig-device executable and the policy files.
// An installed brig finds them under its prefix; a brig in the build tree finds the
// build's brig-device and the source tree's policies/.
#pragma once

#include <filesystem>

namespace brig {

// $BRIG_DEVICE_BINARY if set (the tests point it at brig-device-test), else the
// installed or build-tree brig-device. Throws HostError when none exists.
std::filesystem::path find_device_executable();
std::filesystem::path find_policy_dir();

}  // namespace brig
