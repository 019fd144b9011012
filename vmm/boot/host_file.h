// A file named on the command line (kernel, initrd). Errors carry the flag and path, so a
// user sees one line that says which file is wrong and why.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace brig::boot {

class HostFile {
public:
    // Opens a regular file; a missing or unreadable file is an InvalidArgument
    // ("--kernel: cannot open PATH: No such file or directory").
    static HostFile open(std::string_view flag, const std::filesystem::path& path);

    uint64_t size() const { return size_; }
    // "--kernel: PATH": the start of every error about this file.
    const std::string& label() const { return label_; }

    // Reads exactly out.size() bytes from the start of the file; a file that is shorter
    // (it may shrink after open) is reported as truncated.
    void read_into(std::span<uint8_t> out) const;
    std::vector<uint8_t> read_all() const;

    [[noreturn]] void fail(std::string_view problem) const;

private:
    HostFile(base::UniqueFd fd, uint64_t size, std::string label);

    base::UniqueFd fd_;
    uint64_t size_ = 0;
    std::string label_;
};

// A kernel image read into host memory, ready for parsing.
struct KernelImage {
    std::string label;
    std::vector<uint8_t> bytes;

    // Throws InvalidArgument("LABEL PROBLEM").
    [[noreturn]] void fail(std::string_view problem) const;
};

// "0x1f000": addresses in messages are hex, as in every firmware and kernel log.
std::string hex(uint64_t value);
// "64 MiB", rounded down: sizes in messages a person reads.
std::string mib(uint64_t bytes);

}  // namespace brig::boot
