// The operator's terminal on stdin, touched only while brig is in its foreground
// process group (tcgetpgrp(stdin) == brig's process group). A background brig
// (`brig run ... &`) never calls tcsetattr (SIGTTOU would stop it) and never reads
// the terminal (SIGTTIN); it takes the terminal when it comes to the foreground, and
// gives it back as it found it. Nothing announces that: bash's `fg` continues a
// stopped job (SIGCONT) but sends a running one nothing, so the supervisor also asks
// (refresh) every kForegroundCheck while brig is in the background.
// Between the foreground check and the call the operator may background brig: so
// SIGTTOU and SIGTTIN are blocked in every thread (block_supervisor_signals) but this
// one, where a no-op handler turns them into EINTR instead of a stop.
//
// Raw mode is cfmakeraw's input side: no ISIG (Ctrl-C, Ctrl-Z, Ctrl-\ are bytes for
// the guest), no ICANON, no ECHO, no IXON (Ctrl-S, Ctrl-Q are bytes too, and output
// never stalls on them), no ICRNL/INLCR/IGNCR, 8-bit characters. Output processing
// (OPOST, ONLCR) stays on, so brig's own log lines, which end in "\n", still start at
// column 0; a guest's "\r\n" arrives as "\r\r\n", which looks the same.
#pragma once

#include <sys/types.h>
#include <termios.h>

namespace brig {

class ConsoleTerminal {
public:
    ConsoleTerminal();   // takes the terminal now if stdin is one and brig is in the foreground
    ~ConsoleTerminal();  // gives it back, if brig holds it and is still in the foreground
    ConsoleTerminal(const ConsoleTerminal&) = delete;
    ConsoleTerminal& operator=(const ConsoleTerminal&) = delete;

    bool is_terminal() const { return is_tty_; }
    // stdin may be read now: it is not a terminal, or brig holds it in raw mode.
    bool readable() const { return !is_tty_ || raw_; }
    static constexpr int kForegroundCheckMs = 200;
    bool in_background() const { return is_tty_ && !raw_; }
    // In the background, on a terminal set to stop background writers (stty tostop):
    // console output waits for `fg` (a write would only be interrupted by SIGTTOU).
    bool holds_output() const;
    // After SIGCONT, an interrupted read (SIGTTIN) or kForegroundCheckMs in the background:
    // in the foreground, (re)take the terminal (a shell restores its own modes when a job
    // stops); in the background, leave it alone.
    void refresh();

private:
    bool in_foreground() const;
    void take();

    bool is_tty_ = false;
    pid_t own_group_ = 0;  // brig never changes its process group; read once
    bool saved_valid_ = false;
    termios saved_{};   // the modes brig found, restored on exit
    bool raw_ = false;  // brig has the terminal in raw mode
};

}  // namespace brig
