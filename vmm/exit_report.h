// How brig says why it stopped, whatever the path (README "Exit records"): one line on
// stderr, `brig: RECORD: detail`, printed at every --log-level but off, and one record,
// `RECORD fields`, in --failure-file. Each is written at most once per brig: a stop of
// the VM, an exception out of main, or brig's own death by a seccomp violation, which
// its SIGSYS handler reports through the async-signal-safe variant below, writing to
// the failure file's fd opened at start.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

#include "vmm/error.h"

namespace brig::exit_report {

// Opens (truncates) --failure-file before anything else can fail; opening the same
// path again does nothing. Throws InvalidArgument.
void open_failure_file(const std::filesystem::path& path);

void set_quiet(bool quiet);  // --log-level off: no final line (the record is still written)

// The guest's console goes to a terminal that stderr shares: the final line must then
// start on a line of its own. brig sees the UART's transmitted bytes (note_console_byte);
// output it does not see (the virtio console's) counts as leaving the cursor mid-line.
void set_console_on_terminal(bool on_terminal);
void note_console_byte(uint8_t byte);
void note_console_unseen();

// Prints the line and writes the record (once), and returns `code` for main() to exit with.
int finish(ExitCode code, std::string_view record, std::string_view detail, std::string_view fields = {});

// The same from a signal handler: async-signal-safe (write(2) only, no allocation). The
// detail and fields are given in pieces, written one after another.
void finish_from_signal_handler(const char* record, std::initializer_list<const char*> detail,
                                std::initializer_list<const char*> fields);

// The flag an InvalidArgument names ("--mem: ..." -> "--mem"), or "" if none.
std::string flag_of(std::string_view message);

}  // namespace brig::exit_report
