// Misbehaviour on request, compiled only into brig-device-test (BRIG_DEVICE_TEST_HOOKS),
// so the integration tests can prove that brig catches a device that makes a
// forbidden syscall or sends a malformed reply. The shipped brig-device has none.
#pragma once

#include <cstdint>
#include <vector>

#include "ipc/device_service.h"
#include "ipc/mailbox.h"

namespace brig::devices::test_hooks {

#ifdef BRIG_DEVICE_TEST_HOOKS
// Serial scratch register (offset 7): 0xf1 makes a forbidden syscall, 0xf2 corrupts
// the next mailbox reply, 0xe4 stops the mailbox thread for good, 0xe5 ignores
// SIGSYS and then opens a file, 0xe6 forges a violation report and calls getppid,
// 0xe7 writes lines that pass for brig's, terminal escapes and 1000 lines to stderr, 0xe0..0xe3 ask
// the control thread to break the control connection (control_test_hooks.cpp), 0xf3 allocates and touches memory 1 MiB at a time until an
// allocation fails (then it reports how far it got on stderr, "test hook: allocated
// N MiB", and takes the device's out-of-memory exit) or a cgroup's OOM kill ends it;
// at 1 GiB without a failure it stops and says so ("... MiB without a failure").
void on_serial_write(uint64_t offset, uint8_t value, ipc::MailboxServer& mailbox);
// For serve_device(): a watched fd whose callback runs the requested control hook on
// the control thread itself, so that while it runs, nothing reads brig's replies.
std::vector<ipc::WatchedFd> control_hooks(int control_fd);
// From the mailbox thread: run control hook `value` (0xe0..0xe3) if it is one.
bool request_control_hook(uint8_t value);
// virtio-rng: a request of exactly kSlowRngRequest bytes takes 2.5 s, so a guest can
// reset the device while a queue is being processed.
void on_rng_request(uint64_t bytes);
#else
inline void on_rng_request(uint64_t) {}
inline void on_serial_write(uint64_t, uint8_t, ipc::MailboxServer&) {}
inline std::vector<ipc::WatchedFd> control_hooks(int) { return {}; }
#endif

}  // namespace brig::devices::test_hooks
