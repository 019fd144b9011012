#include "vmm/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "vmm/error.h"

namespace brig {

base::UniqueFd open_output_file(std::string_view flag, const std::filesystem::path& path, int extra_flags,
                                mode_t mode) {
    base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | extra_flags, mode));
    if (fd) return fd;
    const int error = errno;
    struct stat st {};
    // ELOOP is also "too many links on the way"; only a link in the last component is ours to name.
    if (error == ELOOP && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        throw InvalidArgument(std::string(flag) + ": " + path.string() +
                              " is a symbolic link; brig does not write through links (give the real path)");
    throw InvalidArgument(std::string(flag) + ": cannot open " + path.string() + ": " + std::strerror(error));
}

}  // namespace brig
