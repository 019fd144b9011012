// crosvm-style option values, `key=value,key=value` (`--serial type=file,path=/tmp/out`,
// `--disk PATH,ro`): the one parser of them. A value in double quotes may hold commas
// (`path="a,b"`); an item without `=` has no value (`ro`, or a leading PATH).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brig {

struct KeyValue {
    std::string key;
    std::optional<std::string> value;
};

// PathFirst: the first item is a bare value up to the first comma, returned as the key
// of an item without value (`--disk PATH,ro`: a PATH may hold '=').
enum class KeyValueForm { KeysOnly, PathFirst };

// Throws InvalidArgument "FLAG: 'TEXT': ..." for an empty item, an unterminated quote or a
// key given twice.
std::vector<KeyValue> parse_key_values(std::string_view flag, std::string_view text,
                                       KeyValueForm form = KeyValueForm::KeysOnly);

}  // namespace brig
