// `q8`: every KV slot at 8 bits (group-wise asymmetric, HEARTH_KV_* layout), `recent` kept at 16.
#include "uniform_quantization.hpp"

using Q8 = hearth::kv_policies::UniformQuantization<8>;
HEARTH_KV_PLUGIN(Q8, "q8", "1.0.0",
                 "uniform 8-bit KV cache; the `recent` newest tokens stay 16-bit")
