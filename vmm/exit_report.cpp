#include "vmm/exit_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "base/signal_safe.h"
#include "vmm/output_file.h"

namespace brig::exit_report {
namespace {

// Plain globals: the SIGSYS handler reads them, so nothing here may allocate or lock.
int g_failure_fd = -1;
std::filesystem::path g_failure_path;
bool g_quiet = false;
bool g_console_on_terminal = false;
std::atomic<bool> g_console_mid_line{false};
std::atomic<bool> g_line_written{false};
std::atomic<bool> g_record_written{false};

// Before the final line: a newline if the guest left the terminal's cursor mid-line.
void start_on_new_line() {
    if (g_console_on_terminal && g_console_mid_line.exchange(false)) base::write_text(STDERR_FILENO, "\n");
}

}  // namespace

void open_failure_file(const std::filesystem::path& path) {
    if (g_failure_fd >= 0 && path == g_failure_path) return;
    const int fd = open_output_file("--failure-file", path, O_TRUNC, 0644).release();
    if (g_failure_fd >= 0) ::close(g_failure_fd);
    g_failure_fd = fd;  // kept open to the end: the SIGSYS handler may need it
    g_failure_path = path;
}

void set_quiet(bool quiet) { g_quiet = quiet; }
void set_console_on_terminal(bool on_terminal) { g_console_on_terminal = on_terminal; }
void note_console_byte(uint8_t byte) { g_console_mid_line.store(byte != '\n', std::memory_order_relaxed); }
void note_console_unseen() { g_console_mid_line = true; }

int finish(ExitCode code, std::string_view record, std::string_view detail, std::string_view fields) {
    if (!g_quiet && !g_line_written.exchange(true)) {
        start_on_new_line();
        const std::string line = "brig: " + std::string(record) + ": " + std::string(detail) + "\n";
        base::write_all(STDERR_FILENO, line.data(), line.size());
    }
    if (g_failure_fd >= 0 && !g_record_written.exchange(true)) {
        const std::string line = std::string(record) + (fields.empty() ? "" : " ") + std::string(fields) + "\n";
        base::write_all(g_failure_fd, line.data(), line.size());
    }
    return static_cast<int>(code);
}

void finish_from_signal_handler(const char* record, std::initializer_list<const char*> detail,
                                std::initializer_list<const char*> fields) {
    // The line even if one was printed: a violation after the stop is still news.
    if (!g_quiet) {
        g_line_written = true;
        start_on_new_line();
        base::write_text(STDERR_FILENO, "brig: ");
        base::write_text(STDERR_FILENO, record);
        base::write_text(STDERR_FILENO, ": ");
        for (const char* part : detail) base::write_text(STDERR_FILENO, part);
        base::write_text(STDERR_FILENO, "\n");
    }
    if (g_failure_fd >= 0 && !g_record_written.exchange(true)) {
        base::write_text(g_failure_fd, record);
        base::write_text(g_failure_fd, " ");
        for (const char* part : fields) base::write_text(g_failure_fd, part);
        base::write_text(g_failure_fd, "\n");
    }
}

std::string flag_of(std::string_view message) {
    if (!message.starts_with("--")) return "";
    return std::string(message.substr(0, message.find_first_of(":= ")));
}

}  // namespace brig::exit_report
