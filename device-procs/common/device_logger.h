// How device code logs, with the device's name on every line in both of its homes.
// In brig-device the process holds one device and its stderr is a pipe that brig reads
// and prefixes with "[name] device:" (vmm/devices/device_log.h), so a line goes out as
// it is. In brig's own process (--disable-sandbox) there is no such pipe, so the
// prefix is added here and the line goes to brig's log.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

namespace brig::devices {

class DeviceLogger {
public:
    explicit DeviceLogger(const std::string& device);

    // brig-device calls this once, before it builds its device: brig names the lines.
    static void set_named_by_host();

    template <typename... Args>
    void log(spdlog::level::level_enum level, spdlog::format_string_t<Args...> format, Args&&... args) const {
        if (!spdlog::default_logger_raw()->should_log(level)) return;
        spdlog::log(level, "{}{}", prefix_, fmt::format(format, std::forward<Args>(args)...));
    }
    template <typename... Args>
    void debug(spdlog::format_string_t<Args...> format, Args&&... args) const {
        log(spdlog::level::debug, format, std::forward<Args>(args)...);
    }
    template <typename... Args>
    void warn(spdlog::format_string_t<Args...> format, Args&&... args) const {
        log(spdlog::level::warn, format, std::forward<Args>(args)...);
    }
    template <typename... Args>
    void error(spdlog::format_string_t<Args...> format, Args&&... args) const {
        log(spdlog::level::err, format, std::forward<Args>(args)...);
    }

private:
    std::string prefix_;
};

}  // namespace brig::devices
