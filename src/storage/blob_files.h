// Blob files: the files behind Storage's blobs (storage.h) in one directory. Each file is
//   "RKVBLOB1" | u64 length | u64 checksum64(data) | data          (integers little-endian)
// written to "<name>.tmp", synced, renamed to "<name>", and the directory synced.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace rkv {

// [A-Za-z0-9._-]+, not "." or "..", not ending in ".tmp".
bool valid_blob_name(std::string_view name);

// Creates `dir` if needed. Errors name the file; a full disk is ResourceExhausted.
Status write_blob_file(const std::string& dir, std::string_view name, std::string_view data);
Result<std::string> read_blob_file(const std::string& dir, std::string_view name);
Status remove_blob_file(const std::string& dir, std::string_view name);
// Names of the complete blobs, sorted; an absent directory has none.
Result<std::vector<std::string>> list_blob_files(const std::string& dir);

}  // namespace rkv
