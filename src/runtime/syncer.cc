#include "runtime/syncer.h"

namespace rkv {

Syncer::Syncer(Storage* storage, std::function<void(PersistRequest, Status)> done)
    : storage_(storage), done_(std::move(done)), thread_([this] { run(); }) {}

Syncer::~Syncer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Syncer::submit(PersistRequest req) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    RKV_ASSERT_MSG(!job_.has_value(), "syncer handed a batch while one is in progress");
    job_ = std::move(req);
  }
  cv_.notify_one();
}

void Syncer::run() {
  while (true) {
    PersistRequest req;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || job_.has_value(); });
      if (!job_.has_value()) return;  // stopping and idle
      req = std::move(*job_);
    }
    Status st = storage_->write(std::move(req.batch), req.sync);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_.reset();
    }
    done_(std::move(req), std::move(st));
  }
}

}  // namespace rkv
