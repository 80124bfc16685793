// Random test inputs, fresh each run. The run's seed comes from $HEARTH_TEST_SEED when set,
// otherwise from std::random_device; every test mixes it with its own name, so replaying one
// failing test with HEARTH_TEST_SEED=<seed> --gtest_filter=<test> regenerates its exact inputs.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "reference_ops.hpp"

namespace hearth::conformance {

// The seed of this test run (read once).
uint64_t run_seed();
// "HEARTH_TEST_SEED=<seed>", for SCOPED_TRACE.
std::string seed_note();
// A generator for one test: run_seed() mixed with the test's full name.
std::mt19937_64 generator_for(const std::string& test_name);

std::vector<float> uniform_floats(std::mt19937_64& rng, int64_t n, float lo, float hi);
std::vector<float> normal_floats(std::mt19937_64& rng, int64_t n, float sigma);
int64_t pick(std::mt19937_64& rng, std::initializer_list<int64_t> choices);
// Random weights stored in dtype (F32, F16, BF16, Q8_0, Q4_0): float types from uniform
// values in [-1, 1]; block types as random blocks (random f16 scale, random quants), so every
// quant value and both scale signs occur.
WeightMatrix random_weights(std::mt19937_64& rng, hearth_dtype dtype, int64_t n_in, int64_t n_out);

}  // namespace hearth::conformance
