// Syncer: the group-commit thread for fsync = "batch". The loop hands it one batch at a time;
// while that batch is being written and synced, new writes accumulate in the Node and go out
// together as the next batch, so one fsync covers every write that arrived during the last.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/status.h"
#include "node/node.h"
#include "storage/storage.h"

namespace rkv {

class Syncer {
 public:
  // done(request, status) runs on the syncer thread; it must hand the result to the loop. On
  // error the request comes back whole, to be submitted again (Storage::write leaves a failed
  // batch as it was); on success its batch is spent and only its token counts.
  Syncer(Storage* storage, std::function<void(PersistRequest, Status)> done);
  ~Syncer();  // finish()
  // Hands over a batch; the previous one must have completed (done was called).
  void submit(PersistRequest req);
  // Completes the batch in progress and stops the thread; idempotent. For a driver that stops
  // and will not run the completion done() posted.
  void finish();
  // After finish(): the last batch written failed (a later one must not be written after it).
  bool last_failed() const;
  // `replikv lab --faults slow-disk` only (Config::lab_control_file): each synced batch waits
  // this long before it is written, as on a disk whose fsync is slow.
  void set_lab_sync_delay_ms(int64_t ms) { lab_sync_delay_ms_ = ms; }
  int64_t lab_sync_delay_ms() const { return lab_sync_delay_ms_; }

 private:
  void run();

  Storage* storage_;
  std::function<void(PersistRequest, Status)> done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<PersistRequest> job_;
  bool stop_ = false;
  bool last_failed_ = false;
  std::atomic<int64_t> lab_sync_delay_ms_{0};
  std::thread thread_;
};

// BlobWriter: carries out a node's BlobOps (keyspace images written as files of their own,
// removals of old ones) on a thread of its own, in the order submitted, beside the syncer: an
// image of hundreds of megabytes no longer sits in the group commit of the client writes.
class BlobWriter {
 public:
  // done(op, status) runs on the writer thread once the op is carried out, after the writer
  // dropped its own references to the op's data; it must hand both to the loop.
  BlobWriter(Storage* storage, std::function<void(BlobOp, Status)> done);
  ~BlobWriter();  // finish()
  void submit(BlobOp op);
  // Completes the op in progress, drops those not begun (a blob never written is never named
  // by a record; the next open removes leftovers) and stops the thread; idempotent.
  void finish();

 private:
  void run();

  Storage* storage_;
  std::function<void(BlobOp, Status)> done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<BlobOp> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rkv
