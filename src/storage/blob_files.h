// Blob files: the files behind Storage's blobs (storage.h) in one directory. Each file is
//   "RKVBLOB1" | u64 length | u64 checksum64(data) | data          (integers little-endian)
// written to "<name>.tmp", synced, renamed to "<name>", and the directory synced (in one call, or
// in parts: append_blob_file, finish_blob_file).
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
// A blob written in parts (storage.h, append_blob / finish_blob): the parts go to
// "<name>.tmp" behind a header left blank; finishing writes `head` over the data's first bytes,
// checks that the file holds `length` bytes of data (a part that failed leaves it short: the
// blob is not finished, and the file is removed), reads the data back for its checksum, fills
// in the header, and syncs and renames as write_blob_file does. A part that fails removes the
// file, so that a full disk gets its space back.
Status append_blob_file(const std::string& dir, std::string_view name, std::string_view data,
                        bool first);
Status finish_blob_file(const std::string& dir, std::string_view name, std::string_view head,
                        uint64_t length);
// Removes what writes cut short left behind ("<name>.tmp"). Only while no blob is being written.
void remove_blob_leftovers(const std::string& dir);
Result<std::string> read_blob_file(const std::string& dir, std::string_view name);
Status remove_blob_file(const std::string& dir, std::string_view name);
// Names of the complete blobs, sorted; an absent directory has none.
Result<std::vector<std::string>> list_blob_files(const std::string& dir);

}  // namespace rkv
