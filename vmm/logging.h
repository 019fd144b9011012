// brig's log: spdlog's default logger, on stderr or --log-file, as text or
// --log-format json. Every line names its component ("[serial] ..."); a line whose
// words came from a device says so in both formats ("device:" in text,
// "device_text":true in JSON), so an operator never mistakes them for brig's.
#pragma once

#include <spdlog/spdlog.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace brig::logging {

enum class Format { Text, Json };

struct Options {
    spdlog::level::level_enum level = spdlog::level::info;
    Format format = Format::Text;
    std::optional<std::filesystem::path> file;  // --log-file: appended to, never through a link
    // --syslog-tag: every line also goes to syslog, as "TAG[pid]: [component] message".
    std::optional<std::string> syslog_tag;
    std::filesystem::path syslog_socket = "/dev/log";
};

// A datagram socket connected to syslog at `path`, non-blocking, before any filter
// (InvalidArgument naming `flag` when nobody listens there).
base::UniqueFd connect_syslog(const std::filesystem::path& path, std::string_view flag);

// Before any thread and any filter (the file is opened here).
void setup(const Options& options);

// The pid JSON lines of `component` carry (a device's, once it runs); brig's own otherwise.
void note_pid(const std::string& component, pid_t pid);

// One JSON object for a line: {"time","level","component","pid","message"[,"device_text":true]}.
std::string json_line(spdlog::level::level_enum level, std::chrono::system_clock::time_point time,
                      std::string_view text);

}  // namespace brig::logging
