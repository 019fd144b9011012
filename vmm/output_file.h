// Files brig creates for the operator: console output (--serial/--console file=), the
// --failure-file record, and learned policies (--policy-out). All are opened without
// following a symbolic link in the last component: a link planted where brig writes
// (a shared /tmp, say) must never make brig truncate the file it points to.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "base/unique_fd.h"

namespace brig {

// open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | extra_flags, mode). Throws
// InvalidArgument naming `flag` and the path (exit 35): "is a symbolic link" for a link,
// "cannot open" with the cause otherwise.
base::UniqueFd open_output_file(std::string_view flag, const std::filesystem::path& path, int extra_flags, mode_t mode);

}  // namespace brig
