// Target 8: the command-line parser (vmm/cli/cli.h). The input is argv, one argument
// per NUL-separated piece, most often after `run`. Bad input must end in an
// InvalidArgument: one line (exit 35), with no control character in it (the line goes
// to the operator's terminal).
#include <string>
#include <string_view>
#include <vector>

#include "vmm/cli/cli.h"
#include "vmm/error.h"
#include "tests/fuzz/fuzz_target.h"

using namespace brig;
using namespace brig::fuzz;

BRIG_FUZZ_TARGET(cli) {
    if (size > 4096) return -1;
    std::vector<std::string> words;
    std::string word;
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            words.push_back(word);
            word.clear();
        } else {
            word.push_back(static_cast<char>(data[i]));
        }
    }
    words.push_back(word);
    std::vector<std::string_view> args(words.begin(), words.end());
    try {
        parse_command_line(args);
    } catch (const InvalidArgument& e) {
        const std::string_view line(e.what());
        if (line.empty()) fail("an empty error");
        for (const unsigned char c : line)
            if (c < 0x20 || c == 0x7f) fail("an error with a control character: " + std::string(line));
    }
    return 0;
}
