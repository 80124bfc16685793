// `q4`: every KV slot at 4 bits (group-wise asymmetric, HEARTH_KV_* layout), `recent` kept at 16.
#include "uniform_quantization.hpp"

using Q4 = hearth::kv_policies::UniformQuantization<4>;
HEARTH_KV_PLUGIN(Q4, "q4", "1.0.0",
                 "uniform 4-bit KV cache; the `recent` newest tokens stay 16-bit")
