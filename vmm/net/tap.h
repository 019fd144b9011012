// The host side of --net: an existing TAP interface, attached by name or adopted as
// an fd the caller passed, set up the way virtio-net needs it (IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR, a 12-byte vnet header, non-blocking). brig creates no interface and
// sets no address: that is the caller's job, as with crosvm and Firecracker.
#pragma once

#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "ipc/mac_address.h"
#include "vmm/cli/cli.h"

namespace brig::net {

struct Tap {
    base::UniqueFd fd;
    std::string name;  // the interface, as the kernel names it
};

// tap-name=NAME: opens /dev/net/tun and attaches to the TAP NAME, which must exist.
// tap-fd=N: checks that N is a TAP with IFF_NO_PI and IFF_VNET_HDR and takes it over
// (brig's fd N is closed; the TAP lives on in the returned fd). Throws InvalidArgument
// with one line naming the flag for a TAP that is missing, not a TAP, busy, or not
// brig's to use.
Tap open_tap(const NetOption& option);

// Without mac=: a locally administered, unicast MAC from an FNV-1a hash of the TAP's
// name, so that a guest sees the same address on every run.
ipc::MacAddress mac_for_tap(std::string_view name);

}  // namespace brig::net
