// Target 8: the command-line parser (vmm/cli/cli.h). The input is argv, one argument
// per NUL-separated piece, most often after `run`. Bad input must end in an
// InvalidArgument (one line, exit 35); a command line that parses must parse again to
// the same command kind.
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
        const Command first = parse_command_line(args);
        const Command again = parse_command_line(args);
        if (first.index() != again.index()) fail("the same command line parsed to two different commands");
    } catch (const InvalidArgument& e) {
        const std::string_view line(e.what());
        if (line.empty() || line.find('\n') != std::string_view::npos)
            fail("an error that is not one line: " + std::string(line));
    }
    return 0;
}
