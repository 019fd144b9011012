// "did you mean --mem?": the closest known word to a mistyped one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brig {

// Edit distance with adjacent transpositions (optimal string alignment): "kernal" and
// "kernel" are 1 apart, and so are "no-rgn" and "no-rng".
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a typo: at most 2 edits,
// or a third of the word's length for long words. Ties go to the first candidate.
std::optional<std::string> closest_word(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace brig
