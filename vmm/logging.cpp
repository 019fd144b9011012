#include "vmm/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <mutex>
#include <spdlog/fmt/fmt.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "vmm/control/event_log.h"
#include "vmm/output_file.h"

namespace brig::logging {
namespace {

std::mutex g_pids_mutex;
std::map<std::string, pid_t, std::less<>> g_pids;  // guarded by g_pids_mutex

pid_t pid_of(std::string_view component) {
    std::lock_guard lock(g_pids_mutex);
    const auto it = g_pids.find(component);
    return it == g_pids.end() ? ::getpid() : it->second;
}

// Lines into an fd brig opened (--log-file): write() only, so every thread's filter
// already allows it.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit FdSink(base::UniqueFd fd) : fd_(std::move(fd)) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        const char* p = line.data();
        size_t left = line.size();
        while (left > 0) {
            const ssize_t n = ::write(fd_.get(), p, left);
            if (n <= 0) return;  // a full disk loses log lines, never the VM
            p += n;
            left -= static_cast<size_t>(n);
        }
    }
    void flush_() override {}

private:
    base::UniqueFd fd_;
};

class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const std::string line =
            json_line(msg.level, msg.time, std::string_view(msg.payload.data(), msg.payload.size())) + "\n";
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void note_pid(const std::string& component, pid_t pid) {
    std::lock_guard lock(g_pids_mutex);
    g_pids[component] = pid;
}

std::string json_line(spdlog::level::level_enum level, std::chrono::system_clock::time_point time,
                      std::string_view text) {
    std::string component = "brig";
    bool from_device = false;
    if (text.starts_with("[")) {
        const auto close = text.find("] ");
        if (close != std::string_view::npos) {
            component = std::string(text.substr(1, close - 1));
            text.remove_prefix(close + 2);
        }
    }
    constexpr std::string_view kDevice = "device: ";
    if (text.starts_with(kDevice)) {
        from_device = true;
        text.remove_prefix(kDevice.size());
    }
    const auto since = time.time_since_epoch();
    const time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since).count();
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since).count() % 1000;
    tm parts{};
    gmtime_r(&seconds, &parts);
    const auto level_name = spdlog::level::to_string_view(level);
    return fmt::format(
        "{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{}\",\"component\":{},\"pid\":{},"
        "\"message\":{}{}}}",
        parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, millis,
        std::string_view(level_name.data(), level_name.size()), control::json_string(component), pid_of(component),
        control::json_string(text), from_device ? ",\"device_text\":true" : "");
}

void setup(const Options& options) {
    tzset();  // text timestamps read /etc/localtime once, now, before any seccomp filter
    std::shared_ptr<spdlog::logger> logger;
    if (options.file) {
        auto sink = std::make_shared<FdSink>(open_output_file("--log-file", *options.file, O_APPEND, 0640));
        logger = std::make_shared<spdlog::logger>("brig", sink);
    } else {
        logger = spdlog::stderr_logger_mt("brig");
    }
    if (options.format == Format::Json)
        logger->set_formatter(std::make_unique<JsonFormatter>());
    else
        logger->set_pattern("[%H:%M:%S.%e] %l %v");
    logger->set_level(options.level);
    spdlog::set_default_logger(logger);
}

}  // namespace brig::logging
