// Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011),
// shared by random.cu (the generator streams) and data.cu (per-sample augmentation choices).
//
//   one round:   (L0, R0) = mulhilo(M0, c0),  (L1, R1) = mulhilo(M1, c2)        (hi, lo)
//                c' = (L1 ^ c1 ^ k0,  R1,  L0 ^ c3 ^ k1,  R0)
//   between rounds the key is bumped: (k0, k1) += (W0, W1);  10 rounds in all.

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10
#define TWO_POW_M24 5.9604644775390625e-08f  // 2^-24

struct Philox4 {
    unsigned int w[4];
};

// The 64-bit product a * b as (hi, lo) words.
__device__ __forceinline__ void mulhilo(unsigned int a, unsigned int b, unsigned int* hi, unsigned int* lo)
{
    unsigned long long p = (unsigned long long)a * b;
    *hi = (unsigned int)(p >> 32);
    *lo = (unsigned int)p;
}

// Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1).
__device__ __forceinline__ Philox4 philox4x32_10(unsigned int c0, unsigned int c1, unsigned int c2, unsigned int c3,
                                                  unsigned int k0, unsigned int k1)
{
    for (int r = 0; r < PHILOX_ROUNDS; ++r) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        unsigned int hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    Philox4 out = {{c0, c1, c2, c3}};
    return out;
}

// u = (w >> 8) 2^-24 in [0, 1): the top 24 bits of a word, exact in float32.
__device__ __forceinline__ float uniform_of(unsigned int w) { return (float)(w >> 8) * TWO_POW_M24; }
