// Redis-style glob matching for KEYS and SCAN MATCH: * ? [abc] [^a-z] and \ escapes.
#pragma once

#include <string_view>

namespace rkv {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace rkv
