#include "vmm/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "vmm/error.h"

namespace brig {
namespace {

sockaddr_un unix_address(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string& text = path.native();
    if (text.size() >= sizeof address.sun_path) throw InvalidArgument(text + ": too long for a unix socket address");
    std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
    return address;
}

}  // namespace

base::UniqueFd unix_stream_socket() {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) base::throw_errno("socket(AF_UNIX)");
    return fd;
}

int connect_unix(int fd, const std::filesystem::path& path) {
    const sockaddr_un address = unix_address(path);
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
}

base::UniqueFd listen_unix(const std::filesystem::path& path, const std::string& flag, int backlog, mode_t mode) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) throw InvalidArgument(flag + ": exists and is not a socket");
        base::UniqueFd probe = unix_stream_socket();
        const int error = connect_unix(probe.get(), path);
        if (error == 0 || error == EAGAIN) throw InvalidArgument(flag + ": in use (a program listens there)");
        if (::unlink(path.c_str()) != 0)
            throw InvalidArgument(flag + ": " + base::errno_message("cannot remove the stale socket"));
    }
    base::UniqueFd fd = unix_stream_socket();
    const sockaddr_un address = unix_address(path);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        throw InvalidArgument(flag + ": " + base::errno_message("cannot create the socket"));
    // Nobody can connect before listen(): the mode is right before anyone tries.
    if (mode != 0 && ::chmod(path.c_str(), mode) != 0) base::throw_errno("chmod(" + path.string() + ")");
    if (::listen(fd.get(), backlog) != 0) base::throw_errno("listen(" + path.string() + ")");
    return fd;
}

}  // namespace brig
