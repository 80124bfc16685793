#include "convert/calibration_norms.hpp"

#include <hearth/error.hpp>
#include <hearth/model.hpp>
#include <hearth/tokenizer.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth::detail {
namespace {

using Matrix = std::vector<float>;  // row-major [rows][cols]

class HostWeights {
 public:
  HostWeights(const GgufFile& file, const PluginRegistry& registry)
      : file_(file), registry_(registry) {}

  const GgufTensorInfo* find(const std::string& name) const { return file_.tensor(name); }

  std::vector<float> f32(const std::string& name) const {
    const GgufTensorInfo* t = file_.tensor(name);
    if (!t) throw Error(file_.name() + ": tensor '" + name + "' is missing; cannot calibrate");
    std::vector<float> out(static_cast<size_t>(t->n_elements()));
    if (t->type == HEARTH_DTYPE_F32) {
      std::memcpy(out.data(), t->data, out.size() * sizeof(float));
      return out;
    }
    auto format = registry_.format_for(t->type);
    if (!format)
      throw Error(file_.name() + ": tensor '" + name + "' has type " + std::to_string(t->type) +
                  " and no loaded format plugin reads it; check `hearth plugins`");
    format->dequantize(t->type, t->data, out.data(), t->n_elements());
    return out;
  }

 private:
  const GgufFile& file_;
  const PluginRegistry& registry_;
};

// y[t][o] = sum_i w[o][i] x[t][i] (+ bias[o]).
Matrix linear(const Matrix& x, int64_t n_tok, int64_t n_in, const std::vector<float>& w,
              int64_t n_out, const std::vector<float>* bias) {
  Matrix y(static_cast<size_t>(n_tok * n_out));
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xt = x.data() + t * n_in;
    for (int64_t o = 0; o < n_out; ++o) {
      const float* wo = w.data() + o * n_in;
      float s = 0;
      for (int64_t i = 0; i < n_in; ++i) s += wo[i] * xt[i];
      y[static_cast<size_t>(t * n_out + o)] = s + (bias ? (*bias)[static_cast<size_t>(o)] : 0.0f);
    }
  }
  return y;
}

Matrix rms_norm(const Matrix& x, int64_t n_tok, int64_t n, const std::vector<float>& weight,
                float eps) {
  Matrix y(x.size());
  for (int64_t t = 0; t < n_tok; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[t * n + i]) * x[t * n + i];
    const auto scale = static_cast<float>(1.0 / std::sqrt(ss / double(n) + eps));
    for (int64_t i = 0; i < n; ++i) y[t * n + i] = x[t * n + i] * scale * weight[i];
  }
  return y;
}

void rope(Matrix& x, int64_t n_tok, int64_t n_heads, const ModelHyperparams& hp,
          const std::vector<float>* freq_factors) {
  const int64_t half = hp.n_rot / 2;
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x.data() + (t * n_heads + h) * hp.head_dim;
      for (int64_t i = 0; i < half; ++i) {
        double theta = t * hp.rope_scale * std::pow(double(hp.rope_base), -2.0 * i / hp.n_rot);
        if (freq_factors) theta /= (*freq_factors)[static_cast<size_t>(i)];
        const auto c = static_cast<float>(std::cos(theta)), s = static_cast<float>(std::sin(theta));
        const int64_t a = hp.rope_mode == HEARTH_ROPE_NEOX ? i : 2 * i;
        const int64_t b = hp.rope_mode == HEARTH_ROPE_NEOX ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
}

Matrix attention(const Matrix& q, const Matrix& k, const Matrix& v, int64_t n_tok,
                 const ModelHyperparams& hp) {
  const int64_t d = hp.head_dim, group = hp.n_head / hp.n_head_kv;
  Matrix out(static_cast<size_t>(n_tok * hp.n_head * d), 0.0f);
  std::vector<float> p(static_cast<size_t>(n_tok));
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t h = 0; h < hp.n_head; ++h) {
    const int64_t g = h / group;
    for (int64_t i = 0; i < n_tok; ++i) {
      const float* qi = q.data() + (i * hp.n_head + h) * d;
      float max = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) {
        const float* kj = k.data() + (j * hp.n_head_kv + g) * d;
        float s = 0;
        for (int64_t e = 0; e < d; ++e) s += qi[e] * kj[e];
        p[j] = s * scale;
        max = std::max(max, p[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j <= i; ++j) sum += (p[j] = std::exp(p[j] - max));
      float* o = out.data() + (i * hp.n_head + h) * d;
      for (int64_t j = 0; j <= i; ++j) {
        const float* vj = v.data() + (j * hp.n_head_kv + g) * d;
        const auto w = static_cast<float>(p[j] / sum);
        for (int64_t e = 0; e < d; ++e) o[e] += w * vj[e];
      }
    }
  }
  return out;
}

// Adds the squares of x's columns to the named tensors' accumulators.
void accumulate(std::map<std::string, std::vector<double>>& sums,
                std::initializer_list<std::string> names, const Matrix& x, int64_t n_tok,
                int64_t n) {
  for (const auto& name : names) {
    auto& s = sums[name];
    s.resize(static_cast<size_t>(n), 0.0);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < n; ++i) s[i] += double(x[t * n + i]) * x[t * n + i];
  }
}

}  // namespace

CalibrationNorms calibration_norms(const GgufFile& file, const PluginRegistry& registry,
                                   const std::string& text, int64_t max_tokens) {
  const ModelHyperparams hp = read_hyperparams(file);
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  std::vector<int32_t> tokens = tokenizer.encode(text, true, false);
  if (static_cast<int64_t>(tokens.size()) > max_tokens)
    tokens.resize(static_cast<size_t>(max_tokens));
  if (tokens.size() < 2)
    throw Error("the calibration text gives " + std::to_string(tokens.size()) +
                " tokens; give a text of at least a few sentences");
  const HostWeights weights(file, registry);
  const std::vector<float> embd = weights.f32("token_embd.weight");
  std::vector<float> freq_factors;
  if (weights.find("rope_freqs.weight")) freq_factors = weights.f32("rope_freqs.weight");
  const int64_t window = std::min<int64_t>(hp.n_ctx_train, 256);
  const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
  std::map<std::string, std::vector<double>> sums;

  // Layer by layer over all windows, so each layer's weights are expanded once.
  std::vector<Matrix> xs;
  std::vector<int64_t> lens;
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(window)) {
    const int64_t n = std::min<int64_t>(window, static_cast<int64_t>(tokens.size() - start));
    Matrix x(static_cast<size_t>(n * hp.n_embd));
    for (int64_t t = 0; t < n; ++t)
      std::copy_n(embd.data() + int64_t{tokens[start + t]} * hp.n_embd, hp.n_embd,
                  x.data() + t * hp.n_embd);
    xs.push_back(std::move(x));
    lens.push_back(n);
  }
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const auto attn_norm = weights.f32(p + "attn_norm.weight");
    const auto wq = weights.f32(p + "attn_q.weight"), wk = weights.f32(p + "attn_k.weight"),
               wv = weights.f32(p + "attn_v.weight"), wo = weights.f32(p + "attn_output.weight");
    const auto ffn_norm = weights.f32(p + "ffn_norm.weight");
    const auto wg = weights.f32(p + "ffn_gate.weight"), wu = weights.f32(p + "ffn_up.weight"),
               wd = weights.f32(p + "ffn_down.weight");
    std::vector<float> bq, bk, bv;
    if (weights.find(p + "attn_q.bias")) bq = weights.f32(p + "attn_q.bias");
    if (weights.find(p + "attn_k.bias")) bk = weights.f32(p + "attn_k.bias");
    if (weights.find(p + "attn_v.bias")) bv = weights.f32(p + "attn_v.bias");
    for (size_t w = 0; w < xs.size(); ++w) {
      Matrix& x = xs[w];
      const int64_t n = lens[w];
      const Matrix h = rms_norm(x, n, hp.n_embd, attn_norm, hp.rms_eps);
      accumulate(sums, {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}, h, n,
                 hp.n_embd);
      Matrix q = linear(h, n, hp.n_embd, wq, q_dim, bq.empty() ? nullptr : &bq);
      Matrix k = linear(h, n, hp.n_embd, wk, kv_dim, bk.empty() ? nullptr : &bk);
      const Matrix v = linear(h, n, hp.n_embd, wv, kv_dim, bv.empty() ? nullptr : &bv);
      rope(q, n, hp.n_head, hp, freq_factors.empty() ? nullptr : &freq_factors);
      rope(k, n, hp.n_head_kv, hp, freq_factors.empty() ? nullptr : &freq_factors);
      const Matrix a = attention(q, k, v, n, hp);
      accumulate(sums, {p + "attn_output.weight"}, a, n, q_dim);
      const Matrix proj = linear(a, n, q_dim, wo, hp.n_embd, nullptr);
      for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
      const Matrix h2 = rms_norm(x, n, hp.n_embd, ffn_norm, hp.rms_eps);
      accumulate(sums, {p + "ffn_gate.weight", p + "ffn_up.weight"}, h2, n, hp.n_embd);
      Matrix g = linear(h2, n, hp.n_embd, wg, hp.n_ff, nullptr);
      const Matrix u = linear(h2, n, hp.n_embd, wu, hp.n_ff, nullptr);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
      accumulate(sums, {p + "ffn_down.weight"}, g, n, hp.n_ff);
      const Matrix down = linear(g, n, hp.n_ff, wd, hp.n_embd, nullptr);
      for (size_t i = 0; i < x.size(); ++i) x[i] += down[i];
    }
  }
  CalibrationNorms out;
  out.tokens = static_cast<int64_t>(tokens.size());
  for (const auto& [name, s] : sums) {
    auto& norms = out.norms[name];
    for (double v : s) norms.push_back(static_cast<float>(std::sqrt(v)));
  }
  return out;
}

}  // namespace hearth::detail
