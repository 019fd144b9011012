#include "vmm/net/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "vmm/error.h"

namespace brig::net {
namespace {

constexpr const char* kTunDevice = "/dev/net/tun";
constexpr int kVnetHeaderSize = 12;  // struct virtio_net_hdr_v1, as the device reads it
constexpr unsigned kRequiredFlags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
constexpr std::string_view kFlag = "--net";

[[noreturn]] void refuse(const std::string& problem) { throw InvalidArgument(std::string(kFlag) + ": " + problem); }

// The vnet header size and non-blocking mode, on a TAP already attached.
void finish_setup(int fd, const std::string& what) {
    int size = kVnetHeaderSize;
    if (::ioctl(fd, TUNSETVNETHDRSZ, &size) != 0) refuse(what + ": TUNSETVNETHDRSZ: " + base::errno_text(errno));
    // No offloads until the guest's driver accepts some (the device sets them then): a
    // persistent TAP keeps those of its previous user.
    if (::ioctl(fd, TUNSETOFFLOAD, 0) != 0) refuse(what + ": TUNSETOFFLOAD: " + base::errno_text(errno));
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        refuse(what + ": fcntl(O_NONBLOCK): " + base::errno_text(errno));
}

Tap attach_by_name(const std::string& name) {
    const std::string what = "TAP " + name;
    // TUNSETIFF would create a missing interface: brig only attaches to one that exists.
    if (if_nametoindex(name.c_str()) == 0)
        refuse(what + " does not exist (create it first: ip tuntap add " + name + " mode tap)");
    base::UniqueFd fd(::open(kTunDevice, O_RDWR | O_CLOEXEC));
    if (!fd) refuse("cannot open " + std::string(kTunDevice) + ": " + base::errno_text(errno));
    ifreq request{};
    std::memcpy(request.ifr_name, name.data(), name.size());
    request.ifr_flags = static_cast<short>(kRequiredFlags);
    if (::ioctl(fd.get(), TUNSETIFF, &request) != 0) {
        const int error = errno;
        if (error == EINVAL) refuse(name + " is not a single-queue TAP interface");
        if (error == EBUSY) refuse(what + " is already in use by another process");
        if (error == EPERM) refuse("brig may not use " + what + " (it belongs to another user or group)");
        refuse(what + ": TUNSETIFF: " + base::errno_text(error));
    }
    finish_setup(fd.get(), what);
    return {std::move(fd), name};
}

Tap adopt_fd(int number) {
    const std::string what = "tap-fd=" + std::to_string(number);
    if (::fcntl(number, F_GETFD) < 0) refuse(what + ": fd " + std::to_string(number) + " is not open");
    ifreq request{};
    if (::ioctl(number, TUNGETIFF, &request) != 0) refuse(what + ": fd " + std::to_string(number) + " is not a TAP");
    const unsigned flags = static_cast<unsigned short>(request.ifr_flags);
    request.ifr_name[IFNAMSIZ - 1] = '\0';
    const std::string name = request.ifr_name;
    if (!(flags & IFF_TAP)) refuse(what + ": " + name + " is a TUN, not a TAP");
    if ((flags & kRequiredFlags) != kRequiredFlags)
        refuse(what + ": TAP " + name + " was attached without IFF_NO_PI and IFF_VNET_HDR");
    // brig's own copy, close-on-exec, and the caller's number closed: the TAP is brig's now.
    base::UniqueFd fd(::fcntl(number, F_DUPFD_CLOEXEC, 3));
    if (!fd) refuse(what + ": " + base::errno_text(errno));
    ::close(number);
    finish_setup(fd.get(), what + " (TAP " + name + ")");
    return {std::move(fd), name};
}

}  // namespace

Tap open_tap(const NetOption& option) {
    if (option.tap_name) return attach_by_name(*option.tap_name);
    return adopt_fd(*option.tap_fd);
}

ipc::MacAddress mac_for_tap(std::string_view name) {
    uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a 64
    for (const char c : std::string("brig-net:") + std::string(name)) {
        hash ^= static_cast<uint8_t>(c);
        hash *= 0x100000001b3ull;
    }
    ipc::MacAddress mac;
    for (size_t i = 0; i < mac.bytes.size(); ++i) mac.bytes[i] = static_cast<uint8_t>(hash >> (8 * i));
    mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & ~0x01u) | 0x02u);  // unicast, locally administered
    return mac;
}

}  // namespace brig::net
