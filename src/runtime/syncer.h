// Syncer: the group-commit thread for fsync = "batch". The loop hands it one batch at a time;
// while that batch is being written and synced, new writes accumulate in the Node and go out
// together as the next batch, so one fsync covers every write that arrived during the last.
#pragma once

#include <condition_variable>
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
  ~Syncer();  // finishes the batch in progress, then joins
  // Hands over a batch; the previous one must have completed (done was called).
  void submit(PersistRequest req);

 private:
  void run();

  Storage* storage_;
  std::function<void(PersistRequest, Status)> done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<PersistRequest> job_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rkv
