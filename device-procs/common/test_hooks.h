// Misbehaviour on request, compiled only into brig-device-test (BRIG_DEVICE_TEST_HOOKS),
// so the integration tests can prove that brig catches a device that makes a
// forbidden syscall or sends a malformed reply. The shipped brig-device has none.
#pragma once

#include <cstdint>

#include "mailbox.h"

namespace brig::devices::test_hooks {

#ifdef BRIG_DEVICE_TEST_HOOKS
// Serial scratch register (offset 7): 0xf1 makes a forbidden syscall, 0xf2 corrupts
// the next mailbox reply, 0xf3 allocates and touches memory 1 MiB at a time until an
// allocation fails (then it reports how far it got on stderr, "test hook: allocated
// N MiB", and takes the device's out-of-memory exit) or a cgroup's OOM kill ends it;
// at 1 GiB without a failure it stops and says so ("... MiB without a failure").
void on_serial_write(uint64_t offset, uint8_t value, ipc::MailboxServer& mailbox);
#else
inline void on_serial_write(uint64_t, uint8_t, ipc::MailboxServer&) {}
#endif

}  // namespace brig::devices::test_hooks
