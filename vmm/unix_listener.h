// A unix stream socket brig listens on for the host (--vsock's socket, --socket's
// control socket), with one rule for what is already at its path: a socket nobody
// listens on is what a brig that died left behind and is replaced; a live listener
// and anything that is not a socket are refused. The socket is made `mode` before
// anyone can connect (it listens only after the chmod).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "base/unique_fd.h"

namespace brig {

// Throws InvalidArgument starting with `flag` ("--socket: PATH: ...").
base::UniqueFd listen_unix(const std::filesystem::path& path, const std::string& flag, int backlog, mode_t mode = 0);

// A non-blocking, close-on-exec unix stream socket (throws SystemError).
base::UniqueFd unix_stream_socket();
// Connects `fd` to `path`: 0, or the errno (EAGAIN: a full backlog).
int connect_unix(int fd, const std::filesystem::path& path);

}  // namespace brig
