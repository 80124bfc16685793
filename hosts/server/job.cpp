#include "server/job.hpp"

namespace hearth::server {

void Job::push_text(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    pending_ += text;
  }
  changed_.notify_all();
}

void Job::finish(JobResult result) {
  {
    std::lock_guard lock(mutex_);
    result_ = std::move(result);
  }
  changed_.notify_all();
}

Job::Output Job::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !pending_.empty() || result_.has_value(); });
  Output out;
  out.text.swap(pending_);
  out.result = result_;
  return out;
}

}  // namespace hearth::server
