#include "op_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "dtype_info.hpp"
#include "op_validation.hpp"

namespace hearth::backend_cpu {
namespace {

uint32_t dtype_that_picks_the_kernel(const hearth_op& op) {
  switch (raw_kind(op)) {
    case HEARTH_OP_MATMUL:
    case HEARTH_OP_EMBEDDING:
      return op.src[0].dtype;
    case HEARTH_OP_ATTENTION:
    case HEARTH_OP_ATTENTION_SLOTS:
      return op.n_src > 1 ? op.src[1].dtype : op.src[0].dtype;
    case HEARTH_OP_COPY:
      return op.dst.dtype;
    default:
      return op.n_src > 0 ? op.src[0].dtype : op.dst.dtype;
  }
}

int64_t tokens_of(const hearth_op& op) {
  const auto rows = [](const hearth_tensor& t) { return t.ne[1] * t.ne[2] * t.ne[3]; };
  switch (raw_kind(op)) {
    case HEARTH_OP_EMBEDDING:
      return op.src[1].ne[0];
    case HEARTH_OP_MATMUL:
      return rows(op.src[1]);
    case HEARTH_OP_ROPE:
    case HEARTH_OP_ATTENTION:
    case HEARTH_OP_ATTENTION_SLOTS:
      return op.src[0].ne[2] * op.src[0].ne[3];
    default:
      return rows(op.src[0]);
  }
}

uint64_t nanoseconds(OpProfile::Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

}  // namespace

void OpProfile::record(const hearth_op& op, Clock::time_point start, Clock::time_point end,
                       uint64_t cpu_ns) {
  const uint32_t kind = raw_kind(op);
  decode_ = tokens_of(op) == 1;
  if (have_last_ && decode_) {
    Total& gap = step_ended_ ? gap_between_steps_ : gap_in_token_;
    ++gap.calls;
    gap.ns += nanoseconds(start - last_end_);
  }
  Total& total = totals_[Key{kind, dtype_that_picks_the_kernel(op), decode_}];
  ++total.calls;
  total.ns += nanoseconds(end - start) - std::min(pending_copy_.ns, nanoseconds(end - start));
  total.cpu_ns += cpu_ns - std::min(pending_copy_.cpu_ns, cpu_ns);
  pending_copy_ = Total{};
  if (decode_) {
    ++checks_.calls;
    checks_.ns += pending_checks_ns_;
  }
  pending_checks_ns_ = 0;
  last_end_ = end;
  have_last_ = true;
  step_ended_ = false;
}

void OpProfile::record_checks(Clock::duration wall) { pending_checks_ns_ += nanoseconds(wall); }

void OpProfile::record_weight_copy(Clock::duration wall, uint64_t cpu_ns) {
  ++weight_copies_.calls;
  weight_copies_.ns += nanoseconds(wall);
  weight_copies_.cpu_ns += cpu_ns;
  pending_copy_.ns += nanoseconds(wall);
  pending_copy_.cpu_ns += cpu_ns;
}

void OpProfile::record_step_end(Clock::time_point when) {
  if (!have_last_ || step_ended_) return;
  if (decode_) {
    ++decode_tokens_;
    // The time from the last op to the logits copy is the engine's too.
    ++gap_in_token_.calls;
    gap_in_token_.ns += nanoseconds(when - last_end_);
  }
  last_end_ = when;
  step_ended_ = true;
}

std::string OpProfile::table(const PoolStats& pool) const {
  const double tokens = static_cast<double>(decode_tokens_);
  std::string out;
  char line[160];
  const auto row = [&](const std::string& what, const std::string& phase, const Total& t) {
    const double per_token = tokens > 0 && phase == "decode" ? 1.0 / tokens : 0.0;
    std::snprintf(
        line, sizeof line, "%-30s %-7s %9llu %11.3f %10.3f %10.3f %9.2f\n", what.c_str(),
        phase.c_str(), static_cast<unsigned long long>(t.calls), static_cast<double>(t.ns) / 1e6,
        static_cast<double>(t.ns) / 1e6 * per_token,
        static_cast<double>(t.cpu_ns) / 1e6 * per_token,
        t.calls > 0 ? static_cast<double>(t.ns) / 1e3 / static_cast<double>(t.calls) : 0.0);
    out += line;
  };
  std::snprintf(line, sizeof line, "cpu profile: %llu decode tokens\n",
                static_cast<unsigned long long>(decode_tokens_));
  out += line;
  std::snprintf(line, sizeof line, "%-30s %-7s %9s %11s %10s %10s %9s\n", "op (dtype)", "phase",
                "calls", "total ms", "ms/token", "cpu ms/tok", "us/call");
  out += line;
  Total decode_ops;
  for (const auto& [key, total] : totals_) {
    row(op_name(key.kind) + " (" + dtype_name(static_cast<hearth_dtype>(key.dtype)) + ")",
        key.decode ? "decode" : "prompt", total);
    if (key.decode) {
      decode_ops.calls += total.calls;
      decode_ops.ns += total.ns;
      decode_ops.cpu_ns += total.cpu_ns;
    }
  }
  row("all decode ops", "decode", decode_ops);
  row("  of which checks (in ops)", "decode", checks_);
  row("weight copies (first use)", "any", weight_copies_);
  row("outside: between ops", "decode", gap_in_token_);
  row("outside: logits to next step", "decode", gap_between_steps_);
  const auto ms = [](const std::atomic<uint64_t>& ns) { return static_cast<double>(ns) / 1e6; };
  const auto per = [](const std::atomic<uint64_t>& a, const std::atomic<uint64_t>& b) {
    return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
  };
  std::snprintf(line, sizeof line,
                "pool: %llu split ops, %llu chunks, %.1f%% of them on workers; caller waited "
                "%.3f ms after its last chunk\n",
                static_cast<unsigned long long>(pool.dispatches.load()),
                static_cast<unsigned long long>(pool.chunks.load()),
                100.0 * per(pool.worker_chunks, pool.chunks), ms(pool.caller_wait_ns));
  out += line;
  std::snprintf(line, sizeof line,
                "pool: workers joined %llu times, %.2f us after the dispatch on average; slept "
                "%llu times\n",
                static_cast<unsigned long long>(pool.worker_joins.load()),
                per(pool.worker_join_ns, pool.worker_joins) / 1e3,
                static_cast<unsigned long long>(pool.worker_sleeps.load()));
  out += line;
  return out;
}

uint64_t thread_cpu_ns() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool profile_requested_by_environment() {
  const char* value = std::getenv("HEARTH_CPU_PROFILE");
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

}  // namespace hearth::backend_cpu
