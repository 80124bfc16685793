#include "server/job_response.hpp"

namespace hearth::server {
namespace {

constexpr std::chrono::milliseconds kPoll{100};

// Shared by the content provider and the releaser; dropping it before the job ended (the client
// left, the server stopped) cancels the job.
struct Stream {
  std::shared_ptr<Job> job;
  ResponseFormat format;
  std::string all_text;
  bool head_sent = false;
  bool ended = false;
  std::chrono::milliseconds idle{0};
  ~Stream() {
    if (!ended) job->cancel();
  }
};

}  // namespace

void respond_with_job(httplib::Response& res, std::shared_ptr<Job> job, ResponseFormat format) {
  auto stream = std::make_shared<Stream>();
  stream->job = std::move(job);
  stream->format = std::move(format);
  const std::string content_type = stream->format.content_type;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      content_type,
      [stream](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& s) {
          return s.empty() || sink.write(s.data(), s.size());
        };
        Stream& s = *stream;
        if (!s.head_sent) {
          s.head_sent = true;
          if (!write(s.format.head)) return false;
        }
        Job::Output out = s.job->wait(kPoll);
        if (!out.text.empty()) {
          s.idle = std::chrono::milliseconds{0};
          s.all_text += out.text;
          if (!write(s.format.piece(out.text))) return false;
        }
        if (out.result) {
          s.ended = true;
          if (!write(s.format.tail(*out.result, s.all_text))) return false;
          sink.done();
          return true;
        }
        if (out.text.empty()) {
          s.idle += kPoll;
          if (!s.format.keepalive.empty() && s.idle >= s.format.keepalive_after) {
            s.idle = std::chrono::milliseconds{0};
            if (!write(s.format.keepalive)) return false;
          }
        }
        return true;
      },
      [stream](bool success) {
        if (!success) stream->job->cancel();
      });
}

}  // namespace hearth::server
