// Finding the end of an encoded RESP reply (RESP2 or RESP3) without decoding it: EXEC splits
// the array of replies its transaction's commands produced on the node to put the replies of
// connection commands (PING, CLIENT, ...) queued among them in their places. Pure functions.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace rkv::resp {

// The length in bytes of the first complete reply in `bytes` (nested aggregates included);
// 0 when `bytes` does not start with a complete, well-formed reply.
size_t reply_length(std::string_view bytes);

// The elements of an array reply ("*n" followed by n replies, and nothing after): true with
// each element's bytes in *elements; false when `bytes` is anything else (nil, an error, ...).
bool split_array(std::string_view bytes, std::vector<std::string_view>* elements);

}  // namespace rkv::resp
