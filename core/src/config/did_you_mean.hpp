// Suggestions for misspelt keys.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace hearth::config_detail {

// Optimal-string-alignment Damerau-Levenshtein distance, ignoring ASCII case: insertions,
// deletions, substitutions and swaps of two neighbours each cost 1.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to word, if close enough to be what was meant: at most 2 edits, and at
// most half the candidate's length (so "ab" does not suggest "kv").
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

}  // namespace hearth::config_detail
