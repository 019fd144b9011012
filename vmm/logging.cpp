#include "vmm/logging.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <ctime>
#include <map>
#include <mutex>
#include <spdlog/fmt/fmt.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "base/error.h"
#include "vmm/control/event_log.h"
#include "vmm/error.h"
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

// --syslog-tag: each line one datagram on the syslog socket, connected in setup()
// before any filter and then only written to: write() is in every thread's filter,
// and a syslog daemon that is gone, restarted or full costs lines, never the VM.
// (glibc's syslog(), under spdlog's syslog sink, reconnects with socket() and
// connect() from whichever thread logs, which the filters refuse.) RFC 3164's
// "<PRI>TAG[PID]: MSG"; the receiving daemon stamps the time.
class SyslogSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    SyslogSink(base::UniqueFd socket, std::string tag) : socket_(std::move(socket)), tag_(std::move(tag)) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string line = fmt::format("<{}>{}[{}]: {}", kFacilityUser | severity(msg.level), tag_, ::getpid(),
                                             std::string_view(msg.payload.data(), msg.payload.size()));
        // Non-blocking: a full queue drops the line (EAGAIN), as does a daemon gone (ECONNREFUSED).
        (void)!::write(socket_.get(), line.data(), line.size());
    }
    void flush_() override {}

private:
    static constexpr int kFacilityUser = 1 << 3;  // LOG_USER
    static int severity(spdlog::level::level_enum level) {
        switch (level) {
            case spdlog::level::critical:
                return 2;  // LOG_CRIT
            case spdlog::level::err:
                return 3;  // LOG_ERR
            case spdlog::level::warn:
                return 4;  // LOG_WARNING
            case spdlog::level::info:
                return 6;  // LOG_INFO
            default:
                return 7;  // LOG_DEBUG
        }
    }
    base::UniqueFd socket_;
    std::string tag_;
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

base::UniqueFd connect_syslog(const std::filesystem::path& path, std::string_view flag) {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) base::throw_errno("socket(syslog)");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.native().size() >= sizeof address.sun_path)
        throw InvalidArgument(std::string(flag) + ": the syslog socket path " + path.string() + " is too long");
    std::memcpy(address.sun_path, path.c_str(), path.native().size());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int err = errno;
        throw InvalidArgument(std::string(flag) + ": cannot reach syslog at " + path.string() + ": " +
                              std::strerror(err));
    }
    return fd;
}

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
    // After the formatter: syslog lines are the message alone, whatever the format.
    if (options.syslog_tag)
        logger->sinks().push_back(
            std::make_shared<SyslogSink>(connect_syslog(options.syslog_socket, "--syslog-tag"), *options.syslog_tag));
    logger->set_level(options.level);
    spdlog::set_default_logger(logger);
}

}  // namespace brig::logging
