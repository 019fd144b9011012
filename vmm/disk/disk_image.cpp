#include "vmm/disk/disk_image.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "vmm/error.h"

namespace brig::disk {
namespace {

struct FormatMagic {
    size_t offset;
    std::string_view magic;
    std::string_view name;
};

using namespace std::string_view_literals;

// Formats a user plausibly hands to --disk by mistake. Raw images have no magic, so a
// raw image that happens to start with one of these is refused too; that is the safe
// side (QEMU does the same when it probes).
constexpr std::array kFormats = {
    FormatMagic{0, "QFI\xfb"sv, "qcow2"},  // qcow2 (and qcow v1)
    FormatMagic{0, "QED\0"sv, "QED"},
    FormatMagic{0, "KDMV"sv, "VMDK"},                   // sparse extent
    FormatMagic{0, "# Disk DescriptorFile"sv, "VMDK"},  // descriptor
    FormatMagic{0, "vhdxfile"sv, "VHDX"},
    FormatMagic{0, "conectix"sv, "VHD (dynamic)"},   // footer copy at the start
    FormatMagic{0x40, "\x7f\x10\xda\xbe"sv, "VDI"},  // VirtualBox signature 0xbeda107f, little-endian
    FormatMagic{0, "LUKS\xba\xbe"sv, "LUKS"},
};

[[noreturn]] void refuse(const DiskOption& disk, const std::string& why) {
    throw InvalidArgument("--disk: " + disk.path.string() + (disk.read_only ? ",ro" : "") + ": " + why);
}

uint64_t image_size(const DiskOption& disk, int fd) {
    // lseek works for a regular file and a block device alike (st_size is 0 for the latter).
    const off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) refuse(disk, std::string("cannot find its size: ") + std::strerror(errno));
    return static_cast<uint64_t>(end);
}

std::optional<std::string_view> image_format(const DiskOption& disk, int fd) {
    std::array<uint8_t, kHeaderBytes> header{};
    size_t have = 0;
    while (have < header.size()) {
        const ssize_t n = ::pread(fd, header.data() + have, header.size() - have, static_cast<off_t>(have));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) refuse(disk, std::string("cannot read it: ") + std::strerror(errno));
        if (n == 0) break;
        have += static_cast<size_t>(n);
    }
    return unsupported_format(std::span(header.data(), have));
}

// flock, not fcntl record locks: a flock lock belongs to the open file description, so
// a second open() of the same path in this process conflicts as another VM's would
// (POSIX record locks are per process and would not), and the description the device
// process inherits keeps the lock for as long as anything can write through it. The
// kernel drops it when the last fd closes, however brig and its devices end.
void lock(const DiskOption& disk, int fd) {
    const int operation = (disk.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB;
    while (::flock(fd, operation) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK)
            refuse(disk, disk.read_only ? "the image is in use for writing (by another --disk or another VM)"
                                        : "the image is in use (by another --disk or another VM); a writable disk "
                                          "must be its only user");
        refuse(disk, std::string("cannot lock it: ") + std::strerror(errno));
    }
}

}  // namespace

std::optional<std::string_view> unsupported_format(std::span<const uint8_t> header) {
    for (const auto& format : kFormats) {
        if (header.size() < format.offset + format.magic.size()) continue;
        if (std::equal(format.magic.begin(), format.magic.end(), header.begin() + static_cast<ptrdiff_t>(format.offset),
                       [](char m, uint8_t b) { return static_cast<uint8_t>(m) == b; }))
            return format.name;
    }
    return std::nullopt;
}

base::UniqueFd open_image(const DiskOption& disk) {
    base::UniqueFd fd(::open(disk.path.c_str(), (disk.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!fd) refuse(disk, std::string("cannot open: ") + std::strerror(errno));
    if (const auto format = image_format(disk, fd.get()))
        refuse(disk, "a " + std::string(*format) +
                         " image; brig attaches raw images only (convert it: "
                         "qemu-img convert -O raw)");
    if (const uint64_t size = image_size(disk, fd.get()); size % kSectorSize != 0)
        refuse(disk, "its size, " + std::to_string(size) + " bytes, is not a multiple of " +
                         std::to_string(kSectorSize) + " (virtio-blk sectors)");
    lock(disk, fd.get());
    return fd;
}

}  // namespace brig::disk
