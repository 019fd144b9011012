#include "vmm/boot/host_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "vmm/error.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

HostFile HostFile::open(std::string_view flag, const std::filesystem::path& path) {
    std::string label = std::string(flag) + ": " + path.string();
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        const int err = errno;  // before any allocation can disturb it
        throw InvalidArgument(std::string(flag) + ": cannot open " + path.string() + ": " + std::strerror(err));
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) base::throw_errno("fstat(" + path.string() + ")");
    // A FIFO or device has no trustworthy size and could feed us data forever.
    if (!S_ISREG(st.st_mode)) throw InvalidArgument(label + " is not a regular file");
    return HostFile(std::move(fd), static_cast<uint64_t>(st.st_size), std::move(label));
}

HostFile::HostFile(base::UniqueFd fd, uint64_t size, std::string label)
    : fd_(std::move(fd)), size_(size), label_(std::move(label)) {}

void HostFile::read_into(std::span<uint8_t> out) const {
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            fail(std::string("cannot be read: ") + std::strerror(err));
        }
        if (n == 0) fail("is truncated: it shrank to " + std::to_string(done) + " bytes while being read");
        done += static_cast<size_t>(n);
    }
}

std::vector<uint8_t> HostFile::read_all() const {
    std::vector<uint8_t> bytes(size_);
    read_into(bytes);
    return bytes;
}

void HostFile::fail(std::string_view problem) const { throw InvalidArgument(label_ + " " + std::string(problem)); }

void KernelImage::fail(std::string_view problem) const { throw InvalidArgument(label + " " + std::string(problem)); }

std::string hex(uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#" PRIx64, value);
    return buf;
}

std::string mib(uint64_t bytes) { return std::to_string(bytes / layout::MiB) + " MiB"; }

}  // namespace brig::boot
