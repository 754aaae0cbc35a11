#include "runtime/syncer.h"

#include <chrono>

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
    if (const int64_t delay = lab_sync_delay_ms_; delay > 0 && req.sync) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
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

BlobWriter::BlobWriter(Storage* storage, std::function<void(BlobOp, Status)> done)
    : storage_(storage), done_(std::move(done)), thread_([this] { run(); }) {}

BlobWriter::~BlobWriter() {
  finish();
}

void BlobWriter::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void BlobWriter::submit(BlobOp op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

void BlobWriter::run() {
  while (true) {
    BlobOp op;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      op = std::move(queue_.front());
      queue_.pop_front();
    }
    Status st = run_blob_op(*storage_, op);
    op.release.reset();  // here, not on the event loop
    done_(std::move(op), std::move(st));
  }
}

}  // namespace rkv
