// Where the sandbox's parts live: the brig-device executable and the policy files,
// found relative to brig's own executable: under the install prefix, or, for a brig
// run from the build tree, the build's brig-device and its copy of policies/.
//
// This file is compiled twice (vmm/meson.build). The shipped `brig` looks only there.
// `brig-test`, built with BRIG_TEST_BUILD, never installed, and the binary the
// integration tests run, also honours $BRIG_DEVICE_BINARY (to start brig-device-test)
// and falls back to the source tree's policies/.
#pragma once

#include <filesystem>

namespace brig {

// brig-device (or, in brig-test, $BRIG_DEVICE_BINARY if set). Throws HostError when none exists.
std::filesystem::path find_device_executable();
std::filesystem::path find_policy_dir();
// The syslog socket --syslog-tag writes to: /dev/log (in brig-test, $BRIG_TEST_SYSLOG_SOCKET
// if set, so that a test can read what brig sends).
std::filesystem::path syslog_socket_path();

}  // namespace brig
