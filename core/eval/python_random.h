// CPython's random.Random (Mersenne Twister, seeded from an int as random.seed does), reproduced so
// that the harness's few-shot draws (Random(1234).sample) and bootstrap resamples (Random(i).choices)
// pick the same items here as in lm-evaluation-harness. Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace lathe::eval {

class PythonRandom {
public:
    explicit PythonRandom(uint64_t seed);

    uint32_t next_uint32();              // genrand_uint32
    double random();                     // random.random(): 53 bits in [0, 1)
    uint64_t getrandbits(int k);         // k <= 64
    uint64_t randbelow(uint64_t n);      // Random._randbelow_with_getrandbits, n > 0

    // random.sample(range(n), k): indices in selection order (both of CPython's algorithms).
    std::vector<size_t> sample(size_t n, size_t k);
    // random.choices(range(n), k=k): floor(random() * n) each.
    std::vector<size_t> choices(size_t n, size_t k);

private:
    void init_genrand(uint32_t s);
    void init_by_array(const std::vector<uint32_t>& key);
    std::array<uint32_t, 624> mt_{};
    int index_ = 625;
};

}  // namespace lathe::eval
