// Sends a job's output as a chunked HTTP response while it is produced: SSE or NDJSON for
// streams, one JSON document for the rest. Between pieces the writer waits on the job; when the
// client goes away (a write fails), the job is cancelled at once and its slot freed.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "server/job.hpp"

namespace hearth::server {

struct ResponseFormat {
  std::string content_type;
  std::string head;  // written first (e.g. a stream's role chunk); may be empty
  // What to write for a piece of text; empty to hold it back (a non-streaming reply).
  std::function<std::string(const std::string& text)> piece;
  // The end: the final chunk(s), or the whole reply; all_text is everything generated.
  std::function<std::string(const JobResult& result, const std::string& all_text)> tail;
  // Written after keepalive_after without output, so a vanished client is noticed while the job
  // waits or holds text back; harmless to the format's parsers (SSE comment, JSON whitespace).
  std::string keepalive;
  std::chrono::milliseconds keepalive_after{1000};
};

void respond_with_job(httplib::Response& res, std::shared_ptr<Job> job, ResponseFormat format);

}  // namespace hearth::server
