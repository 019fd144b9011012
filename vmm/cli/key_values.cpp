#include "vmm/cli/key_values.h"

#include <algorithm>

#include "vmm/error.h"

namespace brig {
namespace {

[[noreturn]] void fail(std::string_view flag, std::string_view text, const std::string& problem) {
    throw InvalidArgument(std::string(flag) + ": '" + std::string(text) + "': " + problem);
}

}  // namespace

std::vector<KeyValue> parse_key_values(std::string_view flag, std::string_view text, KeyValueForm form) {
    std::vector<KeyValue> items;
    size_t at = 0;
    while (true) {
        // One item: KEY or KEY=VALUE or KEY="VALUE, with commas"; or, first, a PATH.
        const bool path = form == KeyValueForm::PathFirst && items.empty();
        const size_t end = text.find_first_of(path ? "," : ",=", at);
        KeyValue item{std::string(text.substr(at, end - at)), std::nullopt};
        if (item.key.empty()) fail(flag, text, "an empty item (items are KEY=VALUE, separated by commas)");
        at = end;
        if (at != std::string_view::npos && text[at] == '=') {
            ++at;
            if (at < text.size() && text[at] == '"') {
                const size_t close = text.find('"', at + 1);
                if (close == std::string_view::npos) fail(flag, text, "a quote that does not end");
                item.value = std::string(text.substr(at + 1, close - at - 1));
                at = close + 1;
                if (at < text.size() && text[at] != ',')
                    fail(flag, text, "text after the closing quote of " + item.key);
            } else {
                const size_t comma = text.find(',', at);
                item.value = std::string(text.substr(at, comma - at));
                at = comma;
            }
        }
        const auto keys = items.begin() + (form == KeyValueForm::PathFirst && !items.empty() ? 1 : 0);
        if (!path && std::any_of(keys, items.end(), [&](const KeyValue& kv) { return kv.key == item.key; }))
            fail(flag, text, item.key + " given twice");
        items.push_back(std::move(item));
        if (at == std::string_view::npos || at >= text.size()) break;
        ++at;  // the comma
        if (at == text.size()) fail(flag, text, "an empty item (items are KEY=VALUE, separated by commas)");
    }
    return items;
}

}  // namespace brig
