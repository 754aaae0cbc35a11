#include "runtime/syncer.h"

namespace rkv {

Syncer::Syncer(Storage* storage, std::function<void(PersistRequest, Status)> done)
    : storage_(storage), done_(std::move(done)), thread_([this] { run(); }) {}

Syncer::~Syncer() {
  finish();
}

void Syncer::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool Syncer::last_failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_failed_;
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
      last_failed_ = !st.is_ok();
    }
    done_(std::move(req), std::move(st));
  }
}

}  // namespace rkv
